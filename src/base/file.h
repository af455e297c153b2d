/* file.h - files: atomic replacement (temp file, fsync, rename), exclusive creation, and
 * bounded whole-file reads. A crash never leaves a half-written file under a real name. */
#ifndef MC2_BASE_FILE_H
#define MC2_BASE_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/buf.h"
#include "mc2/err.h"

/* An output file being written atomically. Bytes go to a temporary file beside the target
 * ("<dir>/.<name>.tmp-XXXXXX"); mc2_afile_commit() makes it appear under the real name,
 * mc2_afile_abort() removes it. */
typedef struct mc2_afile {
    int fd;
    char *path;     /* final name */
    char *tmp_path; /* temporary name */
    int no_clobber; /* commit fails with MC2_E_EXISTS if path exists */
    uint64_t written;
    int slot; /* 1 + its place in the list of live temporary files; 0: not listed */
} mc2_afile;

/* Creates the temporary file with `mode` (e.g. 0600, 0644). With no_clobber, the commit
 * refuses to replace an existing file (checked atomically with link(2)); it also fails
 * early here if path already exists. */
int mc2_afile_open(mc2_afile *f, const char *path, mode_t mode, int no_clobber,
                   mc2_err *err) MC2_WUR;
/* Writes all n bytes (retrying short writes); -1 with MC2_E_IO naming the file. */
int mc2_afile_write(mc2_afile *f, const void *p, size_t n, mc2_err *err) MC2_WUR;
/* fsyncs the data, renames (or links) it into place, fsyncs the directory, frees f.
 * On failure the temporary file is removed and f freed. */
int mc2_afile_commit(mc2_afile *f, mc2_err *err) MC2_WUR;
/* Removes the temporary file and frees f. Safe on a zeroed or already-finished f. */
void mc2_afile_abort(mc2_afile *f);

/* Removes the temporary file of every mc2_afile of this process that is still open (up to
 * MC2_AFILE_LIVE_MAX at once; their names are kept in static memory while they are open).
 * Async-signal-safe: for a SIGINT/SIGTERM handler, so that an interrupted command leaves no
 * temporary files behind (`mc2` installs one). */
#define MC2_AFILE_LIVE_MAX 64
void mc2_afile_unlink_all(void);

/* Creates a temporary file in dir that has no name (O_TMPFILE, or a file unlinked at once):
 * it disappears when its descriptor is closed, whatever happens to the process. Returns the
 * descriptor (read-write, mode 0600) or -1. */
int mc2_file_anon(const char *dir, mc2_err *err) MC2_WUR;

/* Writes a whole file atomically (mc2_afile_open/write/commit). */
int mc2_file_write_atomic(const char *path, const void *p, size_t n, mode_t mode, int no_clobber,
                          mc2_err *err) MC2_WUR;

/* Reads a whole regular file into out (appending). Fails with MC2_E_LIMIT if it is longer
 * than max bytes, MC2_E_NOTFOUND if missing. */
int mc2_file_read_all(const char *path, size_t max, mc2_buf *out, mc2_err *err) MC2_WUR;

/* Returns 1 if path exists (any type), 0 if not. */
int mc2_file_exists(const char *path);

/* Joins dir and name with one '/'; returns a malloc'd string or NULL. */
char *mc2_path_join(const char *dir, const char *name);

/* Creates a directory with mode if missing (parents are not created). */
int mc2_mkdir(const char *path, mode_t mode, mc2_err *err) MC2_WUR;

#endif
