// A deliberately misbehaving aggregate module (see misbehaving.esdl): each command breaks
// a different rule of docs/module-contract.md, except `ok`. Tests use it to check that the
// host turns every misbehaviour into an error and keeps serving.
typedef unsigned char u8;
typedef unsigned int u32;
typedef long long i64;
typedef unsigned long size_t;

#define EXPORT(name) __attribute__((export_name(name), visibility("default")))
#define CONTRACT(name) EXPORT("thalo:aggregate/aggregate@0.1.0#" name)
#define POST(name) EXPORT("cabi_post_thalo:aggregate/aggregate@0.1.0#" name)

extern u8 __heap_base;
static u8 *top;

void *memcpy(void *restrict d, const void *restrict s, size_t n) { __builtin_memcpy(d, s, n); return d; }
void *memset(void *d, int v, size_t n) { __builtin_memset(d, v, n); return d; }

// A bump allocator that never frees: fine for a test module that is called a few times.
EXPORT("cabi_realloc")
void *cabi_realloc(void *old, size_t old_size, size_t align, size_t size) {
    (void)old; (void)old_size;
    if (!top) top = &__heap_base;
    size_t start = ((size_t)top + align - 1) & ~(align - 1);
    size_t end = start + size;
    size_t have = __builtin_wasm_memory_size(0) * 65536;
    if (end > have && __builtin_wasm_memory_grow(0, (end - have + 65535) / 65536) == (size_t)-1) __builtin_trap();
    top = (u8 *)end;
    return (void *)start;
}

static u32 next_entity = 1;
static u32 area[8];
static u32 events[8];
static const char done_type[] = "Done";
static const char done_payload[] = "{\"n\":1}";
static const char nope_type[] = "Nope";
static const char other_type[] = "Other";
static const u8 bad_text[] = {0xff, 0xfe};

CONTRACT("abi-version") u32 abi_version(void) { return 1; }
CONTRACT("new-entity") u32 new_entity(const u8 *id, u32 len) { (void)id; (void)len; return next_entity++; }
CONTRACT("drop-entity") void drop_entity(u32 entity) { (void)entity; }

static const char poisoned[] = "n 13 is not allowed";

// Applies anything, except an event whose payload contains "13" ({"n":13}, or {"n": 13} as
// PostgreSQL's jsonb writes it): deserialize-event.
static int poisoned_payload(const u8 *payload, u32 length) {
    for (u32 j = 0; j + 1 < length; j++) {
        if (payload[j] == '1' && payload[j + 1] == '3') return 1;
    }
    return 0;
}

CONTRACT("apply") u32 *apply(u32 entity, const u8 *list, u32 count) {
    (void)entity;
    for (u32 i = 0; i < count; i++) {
        const u32 *event = (const u32 *)(list + 64 * i);
        if (poisoned_payload((const u8 *)event[2], event[3])) {
            area[0] = 1; ((u8 *)area)[4] = 3;
            area[2] = (u32)poisoned; area[3] = sizeof poisoned - 1;
            return area;
        }
    }
    area[0] = 0;
    return area;
}
POST("apply") void post_apply(u32 *ret) { (void)ret; }

static volatile u32 sink;
// Unbounded recursion with a side effect around the call, so it cannot become a loop.
static u32 recurse(u32 depth) {
    sink = depth;
    u32 below = recurse(depth + 1);
    sink = below;
    return below + depth;
}

static u32 *one_event(const char *type, u32 type_len, const char *payload, u32 payload_len) {
    events[0] = (u32)type; events[1] = type_len;
    events[2] = (u32)payload; events[3] = payload_len;
    area[0] = 0; area[1] = (u32)events; area[2] = 1;
    return area;
}

// Two events, `first` then `second` (each "Done" or "Other"), with the payload {"n":1}.
static u32 *two_events(const char *first, u32 first_len, const char *second, u32 second_len) {
    events[0] = (u32)first; events[1] = first_len;
    events[2] = (u32)done_payload; events[3] = 7;
    events[4] = (u32)second; events[5] = second_len;
    events[6] = (u32)done_payload; events[7] = 7;
    area[0] = 0; area[1] = (u32)events; area[2] = 2;
    return area;
}

CONTRACT("handle") u32 *handle(u32 entity, const u8 *cmd, u32 cmd_len, const u8 *payload, u32 payload_len,
                               const u8 *id, u32 id_len, const u8 *stream, u32 stream_len, i64 position,
                               i64 global_position, const u8 *meta, u32 meta_len, i64 time) {
    (void)entity; (void)payload; (void)payload_len; (void)id; (void)id_len; (void)stream; (void)stream_len;
    (void)position; (void)global_position; (void)meta; (void)meta_len; (void)time;
    u8 first = cmd_len > 0 ? cmd[0] : 0;
    u8 fifth = cmd_len > 4 ? cmd[4] : 0;
    u8 sixth = cmd_len > 5 ? cmd[5] : 0;
    switch (first) {
    case 'o': return one_event(done_type, 4, done_payload, 7);
    case 's': for (;;) { sink++; }
    case 'g': for (;;) { if (__builtin_wasm_memory_grow(0, 16) == (size_t)-1) __builtin_trap(); }
    case 't': __builtin_trap();
    case 'r': sink = recurse(0); return one_event(done_type, 4, done_payload, 7);
    case 'p':
        if (sixth == 'o') return two_events(done_type, 4, other_type, 5);  // pair_ok
        if (sixth == 'r') return two_events(other_type, 5, done_type, 4);  // pair_reversed
        if (sixth == 'm') return one_event(other_type, 5, done_payload, 7); // pair_missing
        return two_events(done_type, 4, done_type, 4);                     // pair_twice
    case 'b':
        if (fifth == 'p') return (u32 *)0xFFFFFFF0u;                     // bad_pointer
        if (fifth == 't') { area[0] = 7; return area; }                   // bad_tag
        if (fifth == 'e') return one_event(nope_type, 4, done_payload, 7); // bad_event
        return one_event((const char *)bad_text, 2, done_payload, 7);      // bad_utf8
    }
    area[0] = 1; ((u8 *)area)[4] = 4;  // unknown-command
    return area;
}
POST("handle") void post_handle(u32 *ret) { (void)ret; }

CONTRACT("state") u32 *state(u32 entity) { (void)entity; area[0] = 0; return area; }
POST("state") void post_state(u32 *ret) { (void)ret; }
