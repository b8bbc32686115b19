import Foundation

/// The JSON that the tools print (`sbx status --json`, `sbx policy list --json`, `sbx
/// stats --json`, `sbx run --json-report`): one naming style for every key,
/// snake_case (specs/json-output.md). Swift properties are camelCase, so keys are
/// converted on the way out rather than spelled twice.
public enum JSONOutput {
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return encoder
    }

    /// Reads what `encoder()` (or `sbx run --json-report`) wrote: snake_case keys back
    /// to the Swift properties.
    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }

    /// `value` as one JSON document (pretty-printed, sorted keys), ending in a newline.
    public static func text<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try encoder().encode(value), as: UTF8.self) + "\n"
    }
}
