import ArgumentParser
import SonarDetect
import SonarEngine

/// `--limits FILE` and `--limit NAME=VALUE`: every bound of the pipeline (docs/limits.md),
/// shared by the commands that run the engine. Unknown names and bad values refuse to start.
struct LimitOptions: ParsableArguments {
    @Option(name: .customLong("limits"), help: ArgumentHelp("A YAML file of limits (sections decode, flow, reassembly, http, websocket, lines, json, app, mcp; see docs/limits.md).", valueName: "FILE"))
    var file: String?

    @Option(name: .customLong("limit"), help: ArgumentHelp("Set one limit, e.g. http.max_header_bytes=64KiB (repeatable; applied after --limits).", valueName: "NAME=VALUE"))
    var assignments: [String] = []

    /// Checked before anything is opened (an output file, an interface): a bad limit refuses to
    /// start with status 2 and one line on standard error.
    func validate() throws {
        var scratch = EngineConfig()
        if let message = problem(applyingTo: &scratch) {
            warn(message)
            throw ExitCode(2)
        }
    }

    /// Applies the file, then each `--limit` in order; exits with status 2 and one line on any problem.
    func apply(to config: inout EngineConfig) {
        if let message = problem(applyingTo: &config) { fail(message) }
    }

    private func problem(applyingTo config: inout EngineConfig) -> String? {
        if let file {
            do {
                try Limits.load(path: file, into: &config)
            } catch {
                return "invalid limits: \(error)"
            }
        }
        for a in assignments {
            do {
                try Limits.apply(a, to: &config)
            } catch {
                return "--limit \(error)"
            }
        }
        return nil
    }
}
