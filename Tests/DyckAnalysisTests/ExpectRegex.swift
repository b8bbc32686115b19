import Foundation
import DyckModel

/// The expectation language of the golden tests: a regular expression over words.
///
///     word        libc function name (fopen), or call:NAME / call:{A,B} for a call site
///     X Y         sequence            X | Y     alternative (either side may be empty)
///     X* X+ X?    repetition          ( X )     grouping; () is the empty word
///     X!          X, then the path ends without returning (exit, abort, ...)
///
/// `!` is what makes prefix and complete languages differ: `fprintf exit!` allows the
/// run "fprintf exit" but no return after it.
indirect enum ExpectRegex: Equatable {
    case word(String)
    case sequence([ExpectRegex])
    case alternative([ExpectRegex])
    case star(ExpectRegex)
    case plus(ExpectRegex)
    case optional(ExpectRegex)
    case deadEnd(ExpectRegex)

    struct SyntaxError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    static func parse(_ text: String) throws -> ExpectRegex {
        var parser = Parser(tokens: try tokenize(text))
        let result = try parser.alternative()
        if parser.position < parser.tokens.count {
            throw SyntaxError(message: "unexpected '\(parser.tokens[parser.position])' in: \(text)")
        }
        return result
    }

    private enum Token: Equatable, CustomStringConvertible {
        case word(String)
        case symbol(Character)

        var description: String {
            switch self {
            case let .word(w): return w
            case let .symbol(c): return String(c)
            }
        }
    }

    private static func isWordCharacter(_ c: Character) -> Bool {
        c.isLetter || c.isNumber || c == "_" || c == "." || c == "$"
    }

    private static func tokenize(_ text: String) throws -> [Token] {
        var tokens: [Token] = []
        let characters = Array(text)
        var i = 0
        while i < characters.count {
            let c = characters[i]
            if c.isWhitespace {
                i += 1
            } else if "()|*+?!".contains(c) {
                tokens.append(.symbol(c))
                i += 1
            } else if isWordCharacter(c) {
                var word = ""
                while i < characters.count, isWordCharacter(characters[i]) {
                    word.append(characters[i])
                    i += 1
                }
                if word == "call", i < characters.count, characters[i] == ":" {
                    i += 1
                    if i < characters.count, characters[i] == "{" {
                        guard let close = characters[i...].firstIndex(of: "}") else {
                            throw SyntaxError(message: "unterminated call:{ in: \(text)")
                        }
                        let names = String(characters[(i + 1)..<close]).split(separator: ",")
                            .map { $0.trimmingCharacters(in: .whitespaces) }
                        tokens.append(.word(callWord(names, indirect: true)))
                        i = close + 1
                    } else {
                        var name = ""
                        while i < characters.count, isWordCharacter(characters[i]) {
                            name.append(characters[i])
                            i += 1
                        }
                        guard !name.isEmpty else { throw SyntaxError(message: "call: without a name in: \(text)") }
                        tokens.append(.word(callWord([name], indirect: false)))
                    }
                } else {
                    tokens.append(.word(word))
                }
            } else {
                throw SyntaxError(message: "unexpected character '\(c)' in: \(text)")
            }
        }
        return tokens
    }

    /// The word for a call-site edge; shared with the labelling of analysed automata.
    static func callWord(_ callees: [String], indirect: Bool) -> String {
        indirect ? "call:{" + callees.sorted().joined(separator: ",") + "}" : "call:" + callees.joined()
    }

    private struct Parser {
        var tokens: [Token]
        var position = 0

        mutating func alternative() throws -> ExpectRegex {
            var branches = [try sequence()]
            while position < tokens.count, tokens[position] == .symbol("|") {
                position += 1
                branches.append(try sequence())
            }
            return branches.count == 1 ? branches[0] : .alternative(branches)
        }

        mutating func sequence() throws -> ExpectRegex {
            var items: [ExpectRegex] = []
            while position < tokens.count {
                let token = tokens[position]
                if token == .symbol("|") || token == .symbol(")") { break }
                items.append(try postfix())
            }
            return items.count == 1 ? items[0] : .sequence(items)
        }

        mutating func postfix() throws -> ExpectRegex {
            var atom = try self.atom()
            while position < tokens.count, case let .symbol(c) = tokens[position], "*+?!".contains(c) {
                position += 1
                switch c {
                case "*": atom = .star(atom)
                case "+": atom = .plus(atom)
                case "?": atom = .optional(atom)
                default: atom = .deadEnd(atom)
                }
            }
            return atom
        }

        mutating func atom() throws -> ExpectRegex {
            guard position < tokens.count else { throw SyntaxError(message: "expression ends early") }
            let token = tokens[position]
            position += 1
            switch token {
            case let .word(w):
                return .word(w)
            case .symbol("("):
                let inner = try alternative()
                guard position < tokens.count, tokens[position] == .symbol(")") else {
                    throw SyntaxError(message: "missing )")
                }
                position += 1
                return inner
            case let .symbol(c):
                throw SyntaxError(message: "unexpected '\(c)'")
            }
        }
    }

    /// Thompson's construction; `wordID` numbers words (shared with the analysed side).
    func automaton(wordID: (String) -> Int) -> Automaton {
        var nfa = EpsilonNFA()
        let (start, end) = fragment(&nfa, wordID)
        nfa.initial = start
        nfa.finals = [end]
        return nfa.removingEpsilons()
    }

    private func fragment(_ nfa: inout EpsilonNFA, _ wordID: (String) -> Int) -> (Int, Int) {
        switch self {
        case let .word(w):
            let s = nfa.addState(), e = nfa.addState()
            nfa.addEdge(s, .libc(wordID(w)), e)
            return (s, e)
        case let .sequence(items):
            let s = nfa.addState()
            var current = s
            for item in items {
                let (a, b) = item.fragment(&nfa, wordID)
                nfa.addEdge(current, nil, a)
                current = b
            }
            return (s, current)
        case let .alternative(branches):
            let s = nfa.addState(), e = nfa.addState()
            for branch in branches {
                let (a, b) = branch.fragment(&nfa, wordID)
                nfa.addEdge(s, nil, a)
                nfa.addEdge(b, nil, e)
            }
            return (s, e)
        case let .star(inner):
            let s = nfa.addState(), e = nfa.addState()
            let (a, b) = inner.fragment(&nfa, wordID)
            nfa.addEdge(s, nil, a)
            nfa.addEdge(b, nil, a)
            nfa.addEdge(b, nil, e)
            nfa.addEdge(s, nil, e)
            return (s, e)
        case let .plus(inner):
            let e = nfa.addState()
            let (a, b) = inner.fragment(&nfa, wordID)
            nfa.addEdge(b, nil, a)
            nfa.addEdge(b, nil, e)
            return (a, e)
        case let .optional(inner):
            let s = nfa.addState(), e = nfa.addState()
            let (a, b) = inner.fragment(&nfa, wordID)
            nfa.addEdge(s, nil, a)
            nfa.addEdge(b, nil, e)
            nfa.addEdge(s, nil, e)
            return (s, e)
        case let .deadEnd(inner):
            // The inner end leads nowhere; what follows hangs off a state no path reaches.
            let (a, _) = inner.fragment(&nfa, wordID)
            return (a, nfa.addState())
        }
    }
}
