/* An LD_PRELOAD shim for test_link_audit_sync.py (not part of the product): a disk whose
 * WAL cannot be made durable. fdatasync and fsync of a file whose path ends in "-wal" fail
 * with EIO while the file named by IOTHSM_TEST_FAIL_SYNC exists; every other call, and every
 * call while that file is absent, goes to the real function. The trigger is a file rather than
 * a variable so the test can switch the failure on and off in a running agent. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int (*sync_fn)(int);

/* Whether a sync of fd is to fail now. Keeps errno as it was. */
static int should_fail(int fd)
{
    int saved = errno;
    int fail = 0;
    const char *trigger = getenv("IOTHSM_TEST_FAIL_SYNC");
    if (trigger && *trigger && access(trigger, F_OK) == 0) {
        char link[64], path[4096];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, path, sizeof path - 1);
        if (n > 4) {
            path[n] = '\0';
            fail = strcmp(path + n - 4, "-wal") == 0;
        }
    }
    errno = saved;
    return fail;
}

static int call_real(const char *name, int fd)
{
    sync_fn real = (sync_fn)dlsym(RTLD_NEXT, name);
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    return real(fd);
}

int fdatasync(int fd)
{
    if (should_fail(fd)) {
        errno = EIO;
        return -1;
    }
    return call_real("fdatasync", fd);
}

int fsync(int fd)
{
    if (should_fail(fd)) {
        errno = EIO;
        return -1;
    }
    return call_real("fsync", fd);
}
