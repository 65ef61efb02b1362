/* The persistent state of one simulated YubiKey: serial, PIN/PUK and their counters, the
 * management key, the slot keys and the data objects. It lives in one file, sealed with
 * AES-256-GCM under a key kept in a second file beside it (FILE.key, mode 0600), and is rewritten
 * atomically (temporary file + rename) after every change. */
#ifndef PIVSIM_STATE_H
#define PIVSIM_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PIN_MAX_LEN 8
#define PIN_DEFAULT "123456"
#define PUK_DEFAULT "12345678"
#define PIN_TRIES_DEFAULT 3
#define MGM_KEY_MAX 32

#define ORIGIN_GENERATED 1
#define ORIGIN_IMPORTED 2

/* PIN and touch policies as YubiKey encodes them (0 = slot default). */
#define POLICY_DEFAULT 0
#define PIN_NEVER 1
#define PIN_ONCE 2
#define PIN_ALWAYS 3
#define TOUCH_NEVER 1
#define TOUCH_ALWAYS 2
#define TOUCH_CACHED 3

struct sim_key {
    uint8_t algo; /* 0 = empty slot */
    uint8_t pin_policy;
    uint8_t touch_policy;
    uint8_t origin;
    uint8_t *der; /* DER private key (see crypto.h) */
    size_t der_len;
};

struct sim_object {
    uint32_t id;
    uint8_t *data;
    size_t len;
};

struct sim_state {
    char *path; /* NULL: memory only (fuzzing, tests) */
    uint32_t serial;
    uint8_t pin[PIN_MAX_LEN];
    uint8_t pin_len;
    uint8_t puk[PIN_MAX_LEN];
    uint8_t puk_len;
    uint8_t pin_tries, pin_left, puk_tries, puk_left;
    uint8_t mgm_algo;
    uint8_t mgm_key[MGM_KEY_MAX];
    uint8_t mgm_touch;        /* TOUCH_NEVER / TOUCH_ALWAYS */
    struct sim_key keys[256]; /* indexed by slot id */
    struct sim_object *objs;
    size_t n_objs;
};

/* The well-known factory management key 010203…08 (3DES). */
extern const uint8_t MGM_KEY_DEFAULT[24];

/* Factory state: default PIN/PUK/management key, no keys, no objects. Keeps the serial and the
 * attestation key and certificate (slot f9, object 5fff01), as a YubiKey's PIV reset does. */
void state_factory_reset(struct sim_state *s);
void state_free(struct sim_state *s);

/* Loads the state at path, or creates a factory-fresh one with `serial` when the file does not
 * exist (serial 0 = random). Returns 0, or -1 with a message in err. */
int state_open(struct sim_state *s, const char *path, uint32_t serial, char *err, size_t errlen);
/* Writes the state if it has a path. Returns 0 or -1. */
int state_save(const struct sim_state *s);

/* Slot keys. state_set_key takes ownership of der (it is wiped and freed on replacement). */
void state_set_key(struct sim_state *s, uint8_t slot, uint8_t algo, uint8_t pin_policy,
                   uint8_t touch_policy, uint8_t origin, uint8_t *der, size_t der_len);
void state_clear_key(struct sim_state *s, uint8_t slot);

/* Data objects: NULL when absent. Setting an empty value deletes the object. */
const struct sim_object *state_get_object(const struct sim_state *s, uint32_t id);
int state_put_object(struct sim_state *s, uint32_t id, const uint8_t *data, size_t len);

/* Loads or creates a 32-byte key file (0600). */
int state_key_file(const char *path, uint8_t key[32], char *err, size_t errlen);
/* Sealed file helpers shared with the attestation CA: write atomically / read. */
int sealed_write(const char *path, const char *magic, const uint8_t *data, size_t len);
int sealed_read(const char *path, const char *magic, uint8_t **data, size_t *len, char *err,
                size_t errlen);

#endif
