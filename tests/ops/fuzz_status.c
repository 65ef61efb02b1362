/* The status commands read <state_dir>/status.json. The daemon writes it, but the file sits on
 * disk where a broken disk, a full one or a hand edit can leave anything: the reader must
 * never crash and must answer one of its documented exit codes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char g_dir[64];
static char g_path[128];

static void cleanup(void)
{
    unlink(g_path);
    rmdir(g_dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_dir[0]) {
        snprintf(g_dir, sizeof g_dir, "/tmp/fuzz-status-XXXXXX");
        if (!mkdtemp(g_dir))
            abort();
        snprintf(g_path, sizeof g_path, "%s/status.json", g_dir);
        atexit(cleanup);
    }
    FILE *f = fopen(g_path, "wb");
    if (!f)
        abort();
    fwrite(data, 1, size, f);
    fclose(f);
    FILE *out = fopen("/dev/null", "w");
    if (!out)
        abort();
    for (int as_json = 0; as_json < 2; as_json++) {
        int rc = pki_status_print(out, "fuzzd", g_dir, as_json);
        if (rc != 0 && rc != 1 && rc != 3 && rc != 4)
            abort();
    }
    fclose(out);
    return 0;
}
