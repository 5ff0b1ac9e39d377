#pragma once
// One way to replace a file's contents atomically (issue 13 "Foundations": four hand-written
// copies differed - one never fsynced, some reused a fixed "<path>.tmp" that two processes
// would share, none handled short writes, none synced the directory).
//
// WriteFileAtomic(path, content, mode):
//   1. creates a fresh temporary file beside `path` ("<path>.tmp.<pid>.<n>", O_EXCL, mode
//      `mode` from the start, then fchmod so the umask cannot widen or narrow it);
//   2. writes all of `content` (short writes and EINTR retried);
//   3. fsyncs it (kDurable) and closes it;
//   4. renames it over `path` (readers see the old or the new contents, never a mix);
//   5. fsyncs the directory (kDurable), so the rename survives a power loss.
// On any failure the temporary file is removed, `path` is left untouched, and the Status
// (Unavailable) names the step, the path and errno's text. kFast skips both fsyncs: for files
// that are rewritten often and may be lost (a metrics text file).
//
// Thread-safety: stateless apart from a process-wide atomic counter for temporary names; two
// writers of the same path (threads or processes) never share a temporary file, and the last
// rename wins.

#include <string>
#include <string_view>

#include "common/status.h"

namespace vv {

enum class Durability { kDurable, kFast };

Status WriteFileAtomic(const std::string& path, std::string_view content, int mode,
                       Durability durability = Durability::kDurable);

}  // namespace vv
