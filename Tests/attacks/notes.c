/* Attack-suite victim: a struct's char buffer overflowed into the pointers after it.
 *
 * "notesd" keeps one note in a global session: a 32-byte title, then where `save`
 * writes (a path and an offset: a data pointer and a number), then how `show`
 * renders the title (a function pointer). `title HEX` decodes the client's hex into
 * the title with no bound (CWE-120): a long title overwrites the path, the offset
 * and the render pointer.
 *
 *   style plain|loud   choose the renderer
 *   title HEX          set the title (THE BUG)
 *   save HEX           write up to 64 bytes at the session's offset of its file
 *                      (a legitimate feature: the note store's record slot)
 *   show               render the title through the function pointer
 *   debug              a leftover diagnostic: prints the address of a global and
 *                      of libc's puts() (the attacker's information leak)
 *   hook               (only built with -DADMIN_HOOK) runs $NOTES_HOOK with
 *                      system(), an administrator's feature the tests never use;
 *                      it puts system() in the program's PLT
 *   quit
 *
 * Legitimate libc use: fgets, printf, puts, fflush, open, pwrite, close, toupper,
 * string functions. Without ADMIN_HOOK the program never calls system().
 */
#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct session {
	char title[32];
	const char *path;               /* where `save` writes */
	long offset;                    /* at which offset */
	void (*render)(const char *title);
	unsigned saves;
};

const char banner[] = "notesd 1.0";
static char line[1024];
struct session S;

static void render_plain(const char *title)
{
	printf("note: %s\n", title);
}

static void render_loud(const char *title)
{
	char up[sizeof S.title];
	size_t i;
	for (i = 0; i + 1 < sizeof up && title[i]; i++)
		up[i] = (char)toupper((unsigned char)title[i]);
	up[i] = 0;
	printf("NOTE: %s!\n", up);
}

static int nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decodes hex into out, at most max bytes (max 0: no limit, THE BUG when used so).
 * Returns the number of bytes written, and NUL-terminates. */
static size_t decode(unsigned char *out, const char *hex, size_t max)
{
	size_t n = 0;
	while (nibble(hex[0]) >= 0 && nibble(hex[1]) >= 0 && (max == 0 || n + 1 < max)) {
		out[n++] = (unsigned char)(nibble(hex[0]) << 4 | nibble(hex[1]));
		hex += 2;
	}
	out[n] = 0;
	return n;
}

__attribute__((noinline)) static void save_note(const char *hex)
{
	unsigned char data[65];
	size_t n = decode(data, hex, sizeof data);
	int fd = open(S.path, O_WRONLY | O_CREAT, 0644);
	if (fd < 0) {
		puts("save: cannot open");
		return;
	}
	ssize_t w = pwrite(fd, data, n, S.offset);
	close(fd);
	S.saves++;
	printf("saved %zd bytes\n", w);
}

__attribute__((noinline)) static void show_note(void)
{
	if (S.render)
		S.render(S.title);
}

int main(void)
{
	S.path = "notes.out";
	S.offset = 0;
	S.render = render_plain;
	puts(banner);
	fflush(stdout);
	while (fgets(line, sizeof line, stdin) != NULL) {
		line[strcspn(line, "\n")] = 0;
		if (strcmp(line, "quit") == 0)
			break;
		if (strcmp(line, "debug") == 0) {
			printf("debug: banner at %p, puts at %p\n", (void *)banner, (void *)puts);
		} else if (strcmp(line, "style plain") == 0) {
			S.render = render_plain;
			puts("style: plain");
		} else if (strcmp(line, "style loud") == 0) {
			S.render = render_loud;
			puts("style: loud");
		} else if (strncmp(line, "title ", 6) == 0) {
			size_t n = decode((unsigned char *)S.title, line + 6, 0);
			printf("title set (%zu bytes)\n", n);
		} else if (strncmp(line, "save ", 5) == 0) {
			save_note(line + 5);
		} else if (strcmp(line, "show") == 0) {
			show_note();
#ifdef ADMIN_HOOK
		} else if (strcmp(line, "hook") == 0) {
			const char *cmd = getenv("NOTES_HOOK");
			if (cmd != NULL && system(cmd) != 0)
				puts("hook failed");
#endif
		} else {
			puts("unknown command");
		}
		fflush(stdout);
	}
	puts("bye");
	return 0;
}
