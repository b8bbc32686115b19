import XCTest
@testable import DyckModel

final class EquivalenceTests: XCTestCase {
    let open = Label.libc(0)
    let read = Label.libc(1)
    let exit = Label.libc(2)

    func testIdenticalAutomataAreEquivalent() {
        let a = Automaton(stateCount: 2, initial: 0, finals: [1], edges: [Edge(from: 0, label: open, to: 1)])
        XCTAssertTrue(a.isEquivalent(to: a))
        XCTAssertNil(a.difference(from: a))
    }

    func testLocationsAndNumberingAreIgnored() {
        let a = Automaton(
            stateCount: 2, initial: 0, finals: [1],
            edges: [
                Edge(from: 0, label: open, to: 1, locations: [SourceLocation(file: "a.c", line: 3)])
            ])
        let b = Automaton(stateCount: 3, initial: 2, finals: [0], edges: [Edge(from: 2, label: open, to: 0)])
        XCTAssertTrue(a.isEquivalent(to: b))
    }

    func testDeadStateAfterExitIsNotNoTransition() {
        // `exit` leads to a live state that cannot return: the word `exit` is an allowed
        // prefix, though no complete word contains it.
        let withExit = Automaton(
            stateCount: 3, initial: 0, finals: [1],
            edges: [
                Edge(from: 0, label: open, to: 1), Edge(from: 0, label: exit, to: 2)
            ])
        let without = Automaton(stateCount: 2, initial: 0, finals: [1], edges: [Edge(from: 0, label: open, to: 1)])
        let difference = withExit.difference(from: without)
        XCTAssertEqual(difference, LanguageDifference(word: [exit], language: .prefix, inSelf: true))
        XCTAssertEqual(without.difference(from: withExit)?.inSelf, false)
    }

    func testFinalityDifferenceIsCompleteLanguage() {
        let a = Automaton(stateCount: 2, initial: 0, finals: [1], edges: [Edge(from: 0, label: open, to: 1)])
        let b = Automaton(stateCount: 2, initial: 0, finals: [], edges: [Edge(from: 0, label: open, to: 1)])
        XCTAssertEqual(a.difference(from: b), LanguageDifference(word: [open], language: .complete, inSelf: true))
    }

    func testNondeterministicAgainstDeterministic() {
        // open (read | read read) vs open read read?
        let nfa = Automaton(
            stateCount: 5, initial: 0, finals: [2, 4],
            edges: [
                Edge(from: 0, label: open, to: 1), Edge(from: 0, label: open, to: 3),
                Edge(from: 1, label: read, to: 2), Edge(from: 3, label: read, to: 2), Edge(from: 3, label: read, to: 4),
                Edge(from: 4, label: read, to: 2)
            ])
        let dfa = Automaton(
            stateCount: 4, initial: 0, finals: [2, 3],
            edges: [
                Edge(from: 0, label: open, to: 1), Edge(from: 1, label: read, to: 2), Edge(from: 2, label: read, to: 3)
            ])
        XCTAssertTrue(nfa.isEquivalent(to: dfa))
        var longer = dfa
        longer.edges.append(Edge(from: 3, label: read, to: 3))
        XCTAssertEqual(longer.difference(from: dfa)?.word, [open, read, read, read])
    }

    func testCallLabelsAreLetters() {
        let a = Automaton(stateCount: 2, initial: 0, finals: [1], edges: [Edge(from: 0, label: .call(0), to: 1)])
        let b = Automaton(stateCount: 2, initial: 0, finals: [1], edges: [Edge(from: 0, label: .call(1), to: 1)])
        XCTAssertEqual(a.difference(from: b)?.word, [.call(0)])
    }

    func testMalformedInputDoesNotTrap() {
        let broken = Automaton(
            stateCount: 2, initial: 0, finals: [7, -1],
            edges: [
                Edge(from: 0, label: open, to: 9), Edge(from: -3, label: read, to: 1)
            ])
        let lone = Automaton(stateCount: 1, initial: 0, finals: [], edges: [])
        XCTAssertTrue(broken.isEquivalent(to: lone))
        let noInitial = Automaton(stateCount: -1, initial: 4, finals: [], edges: [])
        XCTAssertEqual(noInitial.difference(from: lone), LanguageDifference(word: [], language: .prefix, inSelf: false))
    }
}
