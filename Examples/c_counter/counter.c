// The Counter aggregate (counter.esdl) written in plain C against
// docs/module-contract.md, without the Swift SDK: proof that any language that compiles
// to wasm32 can implement a Thalo module.
//
// Build (see build.sh, or `thalo build Examples/c_counter`):
//   clang --target=wasm32 -O2 -nostdlib -mbulk-memory -c counter.c -o counter.o
//   wasm-ld --no-entry --strip-all --gc-sections counter.o -o counter.wasm
//
// Memory: argument memory comes from an arena that is reset at the end of every call
// (hence the `thalo_packed_arguments` opt-in); results live in static buffers that are
// valid until the next call; entities live in a table whose free slots are reused.
//
// Snapshots (contract 1.1): `snapshot` writes an entity as JSON,
// `{"count":5,"lastCommandPosition":3}` (-1: no command position seen), and `restore`
// reads it back into a new entity.

typedef unsigned char u8;
typedef unsigned int u32;
typedef int i32;
typedef long long i64;
typedef unsigned long size_t;

#define EXPORT(name) __attribute__((export_name(name), visibility("default")))
#define CONTRACT(name) EXPORT("thalo:aggregate/aggregate@0.1.0#" name)
#define POST(name) EXPORT("cabi_post_thalo:aggregate/aggregate@0.1.0#" name)

extern u8 __heap_base;

// MARK: - Memory

void *memcpy(void *restrict dest, const void *restrict src, size_t count) {
    __builtin_memcpy(dest, src, count);
    return dest;
}

void *memset(void *dest, int value, size_t count) {
    __builtin_memset(dest, value, count);
    return dest;
}

// Raw pages above __heap_base. The arena is the first region; the entity table grows
// after it (a grown table abandons its old block, so the waste is bounded by the final
// table size).
static u8 *heap_top;

static void *grab(size_t size) {
    if (!heap_top) heap_top = (u8 *)(((size_t)&__heap_base + 15) & ~(size_t)15);
    size = (size + 15) & ~(size_t)15;
    size_t end = (size_t)heap_top + size;
    size_t have = __builtin_wasm_memory_size(0) * 65536;
    if (end > have && __builtin_wasm_memory_grow(0, (end - have + 65535) / 65536) == (size_t)-1) __builtin_trap();
    void *block = heap_top;
    heap_top += size;
    return block;
}

// The argument arena: chunks kept across calls, emptied at the end of every call.
static u8 *arena_base;
static size_t arena_capacity, arena_used;

EXPORT("cabi_realloc")
void *cabi_realloc(void *old, size_t old_size, size_t align, size_t new_size) {
    (void)old;
    (void)old_size;
    size_t start = (arena_used + align - 1) & ~(align - 1);
    if (start + new_size > arena_capacity) {
        // A fresh, larger arena; the old one is abandoned (this only happens while the
        // largest call seen so far grows, so memory stays bounded).
        size_t capacity = arena_capacity ? arena_capacity * 2 : 4096;
        while (capacity < new_size + align) capacity *= 2;
        arena_base = grab(capacity);
        arena_capacity = capacity;
        start = 0;
    }
    arena_used = start + new_size;
    return arena_base + start;
}

EXPORT("thalo_packed_arguments")
void thalo_packed_arguments(void) {}

static void arena_reset(void) { arena_used = 0; }

// MARK: - Entities

typedef struct {
    int live;
    i64 count;
    i64 last_command_position;  // -1: none
} counter_t;

static counter_t *entities;
static u32 entity_capacity, entity_count;

static counter_t *entity(u32 handle) {
    if (handle == 0 || handle > entity_count || !entities[handle - 1].live) __builtin_trap();
    return &entities[handle - 1];
}

// MARK: - Tiny JSON

typedef struct {
    const u8 *bytes;
    u32 length;
} text_t;

static int text_equals(text_t text, const char *literal) {
    u32 i = 0;
    for (; literal[i]; i++) {
        if (i >= text.length || text.bytes[i] != (u8)literal[i]) return 0;
    }
    return i == text.length;
}

/// Finds `"key":` at the top level of a flat JSON object and parses the integer after
/// it. Returns 1 on success. Strings are skipped so a key inside a value never matches.
static int json_int(text_t json, const char *key, i64 *out) {
    u32 i = 0, depth = 0;
    while (i < json.length) {
        u8 c = json.bytes[i];
        if (c == '{' || c == '[') {
            depth++;
            i++;
        } else if (c == '}' || c == ']') {
            depth--;
            i++;
        } else if (c == '"') {
            u32 start = ++i;
            while (i < json.length && json.bytes[i] != '"') i += json.bytes[i] == '\\' ? 2 : 1;
            text_t name = {json.bytes + start, i - start};
            i++;
            u32 j = i;
            while (j < json.length && (json.bytes[j] == ' ' || json.bytes[j] == '\t' || json.bytes[j] == '\n' || json.bytes[j] == '\r')) j++;
            if (depth == 1 && j < json.length && json.bytes[j] == ':' && text_equals(name, key)) {
                j++;
                while (j < json.length && (json.bytes[j] == ' ' || json.bytes[j] == '\t' || json.bytes[j] == '\n' || json.bytes[j] == '\r')) j++;
                int negative = j < json.length && json.bytes[j] == '-';
                if (negative) j++;
                if (j >= json.length || json.bytes[j] < '0' || json.bytes[j] > '9') return 0;
                unsigned long long value = 0;
                while (j < json.length && json.bytes[j] >= '0' && json.bytes[j] <= '9') {
                    if (value > 922337203685477580ull) return 0;
                    value = value * 10 + (json.bytes[j] - '0');
                    j++;
                }
                if (j < json.length && (json.bytes[j] == '.' || json.bytes[j] == 'e' || json.bytes[j] == 'E')) return 0;
                if (value > 9223372036854775807ull + (unsigned long long)negative) return 0;
                *out = negative ? (i64)(0 - value) : (i64)value;
                return 1;
            }
        } else {
            i++;
        }
    }
    return 0;
}

static u32 write_int(u8 *out, i64 value) {
    u8 digits[20];
    u32 n = 0, length = 0;
    unsigned long long magnitude = value < 0 ? 0 - (unsigned long long)value : (unsigned long long)value;
    do {
        digits[n++] = (u8)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude);
    if (value < 0) out[length++] = '-';
    while (n) out[length++] = digits[--n];
    return length;
}

static u32 write_text(u8 *out, const char *literal) {
    u32 n = 0;
    while (literal[n]) {
        out[n] = (u8)literal[n];
        n++;
    }
    return n;
}

// MARK: - Results (static, valid until the next call)

static u8 result_area[24] __attribute__((aligned(8)));
static u32 event_list[4];  // one event: type ptr, type len, payload ptr, payload len
static u8 payload[96];

static const char *const INCREMENTED = "Incremented";
static const char *const DECREMENTED = "Decremented";

static void store32(u8 *at, u32 value) { __builtin_memcpy(at, &value, 4); }

static u32 length_of(const char *text) {
    u32 n = 0;
    while (text[n]) n++;
    return n;
}

/// An error with a message: tag, then the string at offset 4 of the error.
static u8 *fail(u8 *area, u8 error_tag, const char *message) {
    area[0] = 1;
    u8 *error = area + 4;
    error[0] = error_tag;
    if (error_tag == 1) {  // ignore(option<string>)
        error[4] = message ? 1 : 0;
        store32(error + 8, (u32)(size_t)message);
        store32(error + 12, message ? length_of(message) : 0);
    } else {
        store32(error + 4, (u32)(size_t)message);
        store32(error + 8, message ? length_of(message) : 0);
    }
    return area;
}

// MARK: - Exports

CONTRACT("abi-version")
u32 abi_version(void) { return 1; }

/// Stores a live entity in a free slot and returns its handle.
static u32 insert_entity(i64 count, i64 last_command_position) {
    u32 slot = 0;
    while (slot < entity_count && entities[slot].live) slot++;
    if (slot == entity_count) {
        if (entity_count == entity_capacity) {
            u32 capacity = entity_capacity ? entity_capacity * 2 : 64;
            counter_t *grown = grab(capacity * sizeof(counter_t));
            if (entity_count) memcpy(grown, entities, entity_count * sizeof(counter_t));
            entities = grown;
            entity_capacity = capacity;
        }
        entity_count++;
    }
    entities[slot] = (counter_t){.live = 1, .count = count, .last_command_position = last_command_position};
    return slot + 1;
}

CONTRACT("new-entity")
u32 new_entity(const u8 *id, u32 id_length) {
    (void)id;
    (void)id_length;
    u32 handle = insert_entity(0, -1);
    arena_reset();
    return handle;
}

CONTRACT("drop-entity")
void drop_entity(u32 handle) {
    entity(handle)->live = 0;
    arena_reset();
}

CONTRACT("apply")
u8 *apply(u32 handle, const u8 *events, u32 count) {
    counter_t *counter = entity(handle);
    u8 *area = result_area;
    for (u32 i = 0; i < count; i++) {
        const u8 *event = events + i * 64;
        u32 field[14];
        __builtin_memcpy(field, event, 56);
        text_t type = {(const u8 *)(size_t)field[0], field[1]};
        text_t data = {(const u8 *)(size_t)field[2], field[3]};
        text_t metadata = {(const u8 *)(size_t)field[12], field[13]};  // context at 16, metadata at 16+32
        if (!text_equals(type, INCREMENTED) && !text_equals(type, DECREMENTED)) {
            arena_reset();
            return fail(area, 5, 0);
        }
        i64 new_count;
        if (!json_int(data, "count", &new_count)) {
            arena_reset();
            return fail(area, 3, "missing or invalid field \"count\"");
        }
        counter->count = new_count;
        i64 position;
        if (json_int(metadata, "causationMessagePosition", &position) && position >= 0 &&
            position > counter->last_command_position) {
            counter->last_command_position = position;
        }
    }
    area[0] = 0;
    arena_reset();
    return area;
}

CONTRACT("handle")
u8 *handle(u32 handle, const u8 *command, u32 command_length, const u8 *data, u32 data_length,
           const u8 *id, u32 id_length, const u8 *stream, u32 stream_length, i64 position,
           i64 global_position, const u8 *metadata, u32 metadata_length, i64 time) {
    (void)id, (void)id_length, (void)stream, (void)stream_length, (void)global_position;
    (void)metadata, (void)metadata_length, (void)time;
    counter_t *counter = entity(handle);
    u8 *area = result_area;
    text_t name = {command, command_length};
    int increment = text_equals(name, "increment");
    if (!increment && !text_equals(name, "decrement")) {
        arena_reset();
        return fail(area, 4, 0);
    }
    // ctx.processed(last): a command read from the stream at or before the last one that
    // produced an event was already handled.
    if (position >= 0 && counter->last_command_position >= 0 && position <= counter->last_command_position) {
        arena_reset();
        return fail(area, 1, "command already processed");
    }
    i64 amount;
    if (!json_int((text_t){data, data_length}, "amount", &amount) || amount < -2147483648LL || amount > 2147483647LL) {
        arena_reset();
        return fail(area, 2, "missing or invalid field \"amount\"");
    }
    if (amount <= 0) {
        arena_reset();
        return fail(area, 0, "amount must be positive");
    }
    i64 next;
    if (increment ? __builtin_add_overflow(counter->count, amount, &next)
                  : __builtin_sub_overflow(counter->count, amount, &next)) {
        arena_reset();
        return fail(area, 0, "count would overflow");
    }
    u32 n = write_text(payload, "{\"amount\":");
    n += write_int(payload + n, amount);
    n += write_text(payload + n, ",\"count\":");
    n += write_int(payload + n, next);
    payload[n++] = '}';
    const char *type = increment ? INCREMENTED : DECREMENTED;
    event_list[0] = (u32)(size_t)type;
    event_list[1] = length_of(type);
    event_list[2] = (u32)(size_t)payload;
    event_list[3] = n;
    area[0] = 0;
    store32(area + 4, (u32)(size_t)event_list);
    store32(area + 8, 1);
    arena_reset();
    return area;
}

CONTRACT("state")
u8 *state(u32 handle) {
    counter_t *counter = entity(handle);
    u32 n = write_text(payload, "{\"count\":");
    n += write_int(payload + n, counter->count);
    payload[n++] = '}';
    result_area[0] = 1;
    store32(result_area + 4, (u32)(size_t)payload);
    store32(result_area + 8, n);
    arena_reset();
    return result_area;
}

// Snapshots: the whole entity (the count and the last command position, which decides
// what is ignored as already processed) as a flat JSON object.
CONTRACT("snapshot")
u8 *snapshot(u32 handle) {
    counter_t *counter = entity(handle);
    u32 n = write_text(payload, "{\"count\":");
    n += write_int(payload + n, counter->count);
    n += write_text(payload + n, ",\"lastCommandPosition\":");
    n += write_int(payload + n, counter->last_command_position);
    payload[n++] = '}';
    result_area[0] = 1;  // option<list<u8>>: some
    store32(result_area + 4, (u32)(size_t)payload);
    store32(result_area + 8, n);
    arena_reset();
    return result_area;
}

CONTRACT("restore")
u8 *restore(const u8 *id, u32 id_length, const u8 *data, u32 data_length) {
    (void)id;
    (void)id_length;
    u8 *area = result_area;
    text_t json = {data, data_length};
    i64 count, last_command_position;
    if (!json_int(json, "count", &count)) {
        arena_reset();
        return fail(area, 3, "invalid snapshot: missing or invalid field \"count\"");
    }
    if (!json_int(json, "lastCommandPosition", &last_command_position) || last_command_position < -1) {
        arena_reset();
        return fail(area, 3, "invalid snapshot: missing or invalid field \"lastCommandPosition\"");
    }
    u32 handle = insert_entity(count, last_command_position);
    area[0] = 0;  // result<u32, error>: ok, the handle at 4
    store32(area + 4, handle);
    arena_reset();
    return area;
}

// Results are static: nothing to free after the host has read them.
POST("apply") void post_apply(u8 *result) { (void)result; }
POST("handle") void post_handle(u8 *result) { (void)result; }
POST("state") void post_state(u8 *result) { (void)result; }
POST("snapshot") void post_snapshot(u8 *result) { (void)result; }
POST("restore") void post_restore(u8 *result) { (void)result; }
