// Command injection in tools/call arguments: chaining and substitution into a known command,
// download-and-execute, reverse shells.
import SonarMCP

extension ContentDetectors {
    /// One argument string. Every shell operator must be followed by a configured command word
    /// (`a && b` in a sentence, `x | y` in a formula, `$(document)` in jQuery all pass), and a
    /// pipe on a line that starts with `|` is a Markdown table cell, not a pipeline.
    func scanInjection(_ b: UnsafeBufferPointer<UInt8>, key: String?, _ r: JSONRef, _ scan: inout Scan) {
        // A string that is a command by design (`command`, `script`): chaining is its normal
        // content, so that is only worth a low-severity note; download-and-execute never is.
        let shellKey = key.map { config.shellKeySet.contains($0.lowercased()) } ?? false
        let n = b.count
        var chain: Range<Int>?
        var lineStart = 0
        var pipes: PipeIndex?
        var i = 0
        while i < n {
            let c = b[i]
            if i == 0 || WordSet.endsToken(b[i &- 1]) {
                if let hit = executionShape(b, at: i, pipes: &pipes) {
                    let rule: ContentRule = hit.reverse ? .reverseShell : .downloadExec
                    scan.add(rule, signature: hit.reverse ? "Reverse shell in a tool argument" : "Download-and-execute in a tool argument",
                             at: r, redacted: Excerpt.plain(b, hit.range), matched: UnsafeBufferPointer(rebasing: b[hit.range]))
                }
            }
            if chain == nil {
                var operand: Int?
                switch c {
                case 0x0A:
                    lineStart = i &+ 1
                    operand = i &+ 1
                case 0x3B:  // ;
                    operand = i &+ 1
                case 0x26:  // & and &&
                    operand = i &+ 1 < n && b[i &+ 1] == 0x26 ? i &+ 2 : i &+ 1
                case 0x7C:  // | and ||
                    if i &+ 1 < n && b[i &+ 1] == 0x7C { operand = i &+ 2 }
                    else if !lineIsTableRow(b, lineStart) { operand = i &+ 1 }
                case 0x60:  // `…` glued to a word: substitution, not a Markdown code span after a blank
                    if i == 0 || !ByteClass.isSpace(b[i &- 1]) { operand = i &+ 1 }
                case 0x24:  // $( … ) and ${IFS}
                    if i &+ 1 < n && b[i &+ 1] == 0x28 { operand = i &+ 2 }
                    else if hasPrefixFold(b, i, "${ifs}") { chain = i..<(i &+ 6) }
                    else if hasPrefixFold(b, i, "$ifs") && (i &+ 4 >= n || !ByteClass.isWordByte(b[i &+ 4])) { chain = i..<(i &+ 4) }
                default:
                    break
                }
                if let o = operand, o <= n, let end = config.commandWordSet.command(b, at: o) {
                    chain = i..<end
                }
            } else if c == 0x0A {
                lineStart = i &+ 1
            }
            // Operators in `&&`/`||` were read as one: skip the second byte.
            if (c == 0x26 || c == 0x7C) && i &+ 1 < n && b[i &+ 1] == c { i &+= 2 } else { i &+= 1 }
        }
        if let span = chain {
            scan.add(.shellChain, severity: shellKey ? 3 : nil,
                     signature: "Shell command chaining or substitution in a tool argument",
                     at: r, redacted: Excerpt.plain(b, span), matched: UnsafeBufferPointer(rebasing: b[span]))
        }
    }

    private func lineIsTableRow(_ b: UnsafeBufferPointer<UInt8>, _ start: Int) -> Bool {
        var k = start
        while k < b.count && (b[k] == 0x20 || b[k] == 0x09) { k &+= 1 }
        return k < b.count && b[k] == 0x7C
    }

    /// Shapes that fetch and run code or open a shell to another host, at a token start:
    /// `curl|wget … | sh`, PowerShell with an encoded command, `iex(`/`Invoke-Expression`,
    /// `nc … -e`, `/dev/tcp/`.
    func executionShape(_ b: UnsafeBufferPointer<UInt8>, at i: Int, pipes: inout PipeIndex?) -> (range: Range<Int>, reverse: Bool)? {
        let c = ByteClass.lower(b[i])
        if c == 0x2F, hasPrefixFold(b, i, "/dev/tcp/") || hasPrefixFold(b, i, "/dev/udp/") {
            return (i..<(i &+ 9), true)
        }
        if c == 0x69 {  // iex( / iex ( / invoke-expression
            if hasPrefixFold(b, i, "invoke-expression") { return (i..<(i &+ 17), false) }
            if hasPrefixFold(b, i, "iex") {
                var k = i &+ 3
                while k < b.count && b[k] == 0x20 { k &+= 1 }
                if k < b.count && (b[k] == 0x28 || b[k] == 0x24) { return (i..<(k &+ 1), false) }
            }
        }
        guard ByteClass.isAlnum(c) || c == 0x2F || c == 0x2E else { return nil }
        let token = WordSet.token(b, at: i)
        if config.fetcherSet.matches(b, token.name) {
            // A pipe into an interpreter later in the same command line. The pipes are indexed once
            // per string, so `curl curl curl …` costs a lookup per word, not a scan.
            if pipes == nil { pipes = PipeIndex(b, interpreters: config.interpreterSet) }
            if let end = pipes?.pipeIntoInterpreter(after: token.end) { return (i..<end, false) }
            return nil
        }
        if Self.powershell.matches(b, token.name) {
            // PowerShell takes any prefix of -EncodedCommand (`-e`, `-enc`) and the alias `-ec`.
            if let e = flag(b, from: token.end, where: { f in
                f.count >= 2 && ("-encodedcommand".utf8.starts(with: f) || f.elementsEqual("-ec".utf8)) }) {
                return (i..<e, false)
            }
        }
        if Self.netcat.matches(b, token.name) {
            if let e = flag(b, from: token.end, where: { f in f.elementsEqual("-e".utf8) || f.elementsEqual("-c".utf8) }) {
                return (i..<e, true)
            }
        }
        return nil
    }

    /// How many tokens past a command its flag is looked for.
    static let flagTokens = 12

    static let powershell = WordSet(["powershell", "pwsh"])
    static let netcat = WordSet(["nc", "ncat", "netcat", "nc.traditional", "nc.openbsd"])

    /// The end of the first flag token (lower-cased) after `from` on the same command that
    /// satisfies `test`.
    private func flag(_ b: UnsafeBufferPointer<UInt8>, from: Int, where test: ([UInt8]) -> Bool) -> Int? {
        var k = from
        var tokens = 0
        while k < b.count && tokens < Self.flagTokens {
            let c = b[k]
            if c == 0x0A || c == 0x3B || c == 0x7C || c == 0x26 { return nil }
            if c == 0x20 || c == 0x09 { k &+= 1; continue }
            var e = k
            while e < b.count && !(b[e] == 0x20 || b[e] == 0x09 || b[e] == 0x0A || b[e] == 0x3B || b[e] == 0x7C || b[e] == 0x26) { e &+= 1 }
            if b[k] == 0x2D && e &- k <= 32 {
                let token = Array(UnsafeBufferPointer(rebasing: b[k..<e])).map(ByteClass.lower)
                if test(token) { return e }
            }
            k = e
            tokens &+= 1
        }
        return nil
    }
}

/// The pipes into an interpreter (`| sh`, `|sudo bash`) and the command-line ends (newline, `;`)
/// of one string, found in one pass.
struct PipeIndex {
    private var pipes: [(at: Int, end: Int)] = []
    private var stops: [Int] = []

    init(_ b: UnsafeBufferPointer<UInt8>, interpreters: WordSet) {
        var k = 0
        while k < b.count {
            switch b[k] {
            case 0x0A, 0x3B:
                stops.append(k)
            case 0x7C:
                if k &+ 1 < b.count && b[k &+ 1] == 0x7C { k &+= 2; continue }
                var o = k &+ 1
                while o < b.count && (b[o] == 0x20 || b[o] == 0x09) { o &+= 1 }
                if hasPrefixFold(b, o, "sudo ") { o &+= 5 }
                if let e = interpreters.command(b, at: o) { pipes.append((k, e)) }
            default:
                break
            }
            k &+= 1
        }
    }

    /// The end of the first interpreter piped into after `t` on the same command line.
    func pipeIntoInterpreter(after t: Int) -> Int? {
        guard let p = Self.firstIndex(pipes.count, { pipes[$0].at >= t }) else { return nil }
        let stop = Self.firstIndex(stops.count, { stops[$0] >= t }).map { stops[$0] } ?? Int.max
        return pipes[p].at < stop ? pipes[p].end : nil
    }

    /// Binary search: the first index in 0..<count where the monotone `test` holds.
    private static func firstIndex(_ count: Int, _ test: (Int) -> Bool) -> Int? {
        var lo = 0, hi = count
        while lo < hi {
            let mid = (lo &+ hi) >> 1
            if test(mid) { hi = mid } else { lo = mid &+ 1 }
        }
        return lo < count ? lo : nil
    }
}

/// True if `b` at `i` starts with `prefix` (given in lower case), ASCII case-insensitively.
func hasPrefixFold(_ b: UnsafeBufferPointer<UInt8>, _ i: Int, _ prefix: StaticString) -> Bool {
    let count = prefix.utf8CodeUnitCount
    guard i >= 0, i &+ count <= b.count else { return false }
    let p = prefix.utf8Start
    for k in 0..<count where ByteClass.lower(b[i &+ k]) != p[k] { return false }
    return true
}
