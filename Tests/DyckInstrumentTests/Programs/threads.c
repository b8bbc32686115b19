/* Two threads, each running program code that calls libc, joined before printing. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

struct job {
    int id;
    char text[64];
};

static int square(int x) { return x * x; }

static void describe(struct job *job) {
    snprintf(job->text, sizeof job->text, "thread %d: %d", job->id, square(job->id + 1));
}

static void *run(void *argument) {
    struct job *job = argument;
    describe(job);
    return NULL;
}

int main(void) {
    struct job jobs[2] = {{.id = 1}, {.id = 2}};
    pthread_t threads[2];
    for (int i = 0; i < 2; i++) pthread_create(&threads[i], NULL, run, &jobs[i]);
    for (int i = 0; i < 2; i++) pthread_join(threads[i], NULL);
    for (int i = 0; i < 2; i++) puts(jobs[i].text);
    return (int)strlen(jobs[0].text) % 7;
}
