import DyckAnalysis

/// A program read from a file, analysed, and instrumented in memory: the policy and
/// the rewritten module come from one analysis, so their ids agree.
public final class InstrumentedProgram {
    public let module: IRModule
    /// The policy (and the analysis's warnings) that the markers refer to.
    public let analysis: AnalysisResult
    public let report: InstrumentReport
    /// The format of the input, which the instrumented module is written in.
    public let format: IRFormat

    init(module: IRModule, analysis: AnalysisResult, report: InstrumentReport, format: IRFormat) {
        self.module = module
        self.analysis = analysis
        self.report = report
        self.format = format
    }

    /// Writes the instrumented module in the input's format, atomically.
    public func write(to path: String) throws {
        try module.write(to: path, format: format)
    }
}

/// Reads textual IR or bitcode from `path`, derives its policy and instruments it.
/// Nothing is written.
public func instrumentIR(
    atPath path: String, analysisOptions: AnalysisOptions = AnalysisOptions(),
    options: InstrumentOptions = InstrumentOptions()
) throws -> InstrumentedProgram {
    // As in analyzeIR: without the libc set no input can be analysed, and its error is
    // the one the user has to fix first.
    _ = try LibcSymbols.load(path: analysisOptions.libcPath)
    let module = try IRModule(contentsOf: path)
    let analysis = try analyzeModule(module, options: analysisOptions)
    let report = try instrument(module, analysis: analysis, options: options)
    return InstrumentedProgram(
        module: module, analysis: analysis.result, report: report, format: IRFormat.of(fileAtPath: path) ?? .text)
}
