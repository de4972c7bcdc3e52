#if canImport(Glibc)
import Glibc
#endif

/// Finds the `rules/` folder that ships with the program, wherever it is run from: beside the
/// binary, in `../share/mcpsonar/rules` (an install), up the tree from the binary (a build in
/// `.build/release`), or in the source tree it was built from.
enum RulesLocator {
    static func defaultRoot() -> String? {
        var candidates: [String] = []
        if let env = getenv("MCPSONAR_RULES") { candidates.append(String(cString: env)) }
        if let exe = executablePath() {
            var dir = parent(exe)
            candidates.append(dir + "/rules")
            candidates.append(parent(dir) + "/share/mcpsonar/rules")
            for _ in 0..<5 {
                dir = parent(dir)
                candidates.append(dir + "/rules")
            }
        }
        // The source tree this binary was built from.
        var source = #filePath
        for _ in 0..<3 { source = parent(source) }
        candidates.append(source + "/rules")
        return candidates.first { isRulesRoot($0) }
    }

    static func isRulesRoot(_ path: String) -> Bool {
        var s = stat()
        return stat(path + "/methods.yml", &s) == 0 && stat(path + "/policy.yml", &s) == 0
    }

    static func isDirectory(_ path: String) -> Bool {
        var s = stat()
        return stat(path, &s) == 0 && (s.st_mode & S_IFMT) == S_IFDIR
    }

    private static func executablePath() -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
