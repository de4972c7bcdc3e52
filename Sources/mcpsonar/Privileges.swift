#if canImport(Glibc)
import Glibc
#endif

/// Dropping root once the capture is open, as tcpdump's -Z does: the open capture descriptor
/// keeps working, and nothing else the sensor does needs privileges.
enum Privileges {
    struct Account {
        var name: String
        var uid: uid_t
        var gid: gid_t
    }

    /// The user (and group) to run as; exits with a clear line when either does not exist.
    static func resolve(user: String, group: String?) -> Account {
        guard let pw = getpwnam(user) else { fail("--user \(user): no such user") }
        var gid = pw.pointee.pw_gid
        if let group {
            if let gr = getgrnam(group) {
                gid = gr.pointee.gr_gid
            } else if let n = UInt32(group) {
                gid = n
            } else {
                fail("--group \(group): no such group")
            }
        }
        return Account(name: user, uid: pw.pointee.pw_uid, gid: gid)
    }

    /// Sets the supplementary groups, group and user, in that order (only root may change the
    /// first two). Nil on success, else why not.
    static func drop(to account: Account) -> String? {
        if getuid() == account.uid && geteuid() == account.uid && getgid() == account.gid {
            return nil
        }
        var groups = [account.gid]
        if setgroups(1, &groups) != 0 { return "--user \(account.name): cannot set groups: \(String(cString: strerror(errno)))" }
        if setgid(account.gid) != 0 { return "--user \(account.name): cannot set group \(account.gid): \(String(cString: strerror(errno)))" }
        if setuid(account.uid) != 0 { return "--user \(account.name): cannot set user \(account.uid): \(String(cString: strerror(errno)))" }
        // Proof the drop holds: root cannot be regained.
        if account.uid != 0 && setuid(0) == 0 { return "--user \(account.name): privileges could be regained; refusing to run" }
        return nil
    }
}
