// The C runtime of a Thalo guest: the few libc symbols Embedded Swift needs, the
// canonical ABI's `cabi_realloc`, and the argument arena.
//
// Compile: clang --target=wasm32 -O2 -nostdlib -mbulk-memory -c thalo_shim.c
//
// Memory model:
// - The heap grows from `__heap_base` with `memory.grow`; it never shrinks.
// - Every block has a size class (a power of two, 32 bytes to 2 GiB) and goes back to
//   that class's free list when freed, so a guest that frees what it allocates keeps a
//   flat memory over any number of calls.
// - Argument memory (everything the host asks for through `cabi_realloc`) comes from an
//   arena that the Swift export glue resets at the end of every call
//   (`thalo_arena_reset`). This is why the module exports `thalo_packed_arguments`: the
//   host may put all arguments of a call in one block, since they are released as a whole.

typedef unsigned char uint8_t;
typedef unsigned int uint32_t;
typedef unsigned long long uint64_t;
typedef unsigned long size_t;
typedef unsigned long uintptr_t;

#define EXPORT(name) __attribute__((export_name(name), visibility("default")))

extern unsigned char __heap_base;

// MARK: - Memory primitives

void *memset(void *dest, int value, size_t count) {
    __builtin_memset(dest, value, count);  // memory.fill with -mbulk-memory
    return dest;
}

void *memcpy(void *restrict dest, const void *restrict src, size_t count) {
    __builtin_memcpy(dest, src, count);  // memory.copy with -mbulk-memory
    return dest;
}

void *memmove(void *dest, const void *src, size_t count) {
    __builtin_memmove(dest, src, count);  // memory.copy handles overlap
    return dest;
}

int memcmp(const void *lhs, const void *rhs, size_t count) {
    const uint8_t *a = lhs, *b = rhs;
    for (size_t i = 0; i < count; i++) {
        if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
    }
    return 0;
}

size_t strlen(const char *text) {
    const char *end = text;
    while (*end) end++;
    return (size_t)(end - text);
}

// Embedded Swift prints `fatalError` messages through putchar in unoptimised builds. A
// module has no output (it imports nothing), so the text is dropped; the trap remains.
int putchar(int character) { return character; }

// MARK: - Allocator

// A block: a 16-byte header, then the payload. Payloads are 16-byte aligned (Swift asks
// for at most 16 through malloc). Blocks with a larger alignment (posix_memalign) are
// carved out of a bigger block; the header just before the payload says where it starts.
typedef struct {
    uint32_t size_class;   // log2 of the block size including the header
    uint32_t offset;       // payload address minus block address
    uint32_t magic;
    uint32_t unused;
} header_t;

#define HEADER_SIZE 16u
#define MIN_CLASS 5u       // 32-byte blocks: 16 bytes of payload
#define MAX_CLASS 31u
#define MAGIC_LIVE 0x7468616cu  // "thal"
#define MAGIC_FREE 0x66726565u  // "free"
#define PAGE_SIZE 65536u

static void *free_lists[MAX_CLASS + 1];
static uintptr_t heap_top;
static uintptr_t heap_end;

static uint32_t class_for(size_t total) {
    uint32_t size_class = MIN_CLASS;
    while (size_class < MAX_CLASS && ((size_t)1 << size_class) < total) size_class++;
    return size_class;
}

static void *carve(size_t size) {
    if (heap_top == 0) {
        heap_top = ((uintptr_t)&__heap_base + 15u) & ~(uintptr_t)15u;
        heap_end = __builtin_wasm_memory_size(0) * PAGE_SIZE;
    }
    if (size > heap_end - heap_top) {
        size_t missing = size - (heap_end - heap_top);
        size_t pages = (missing + PAGE_SIZE - 1) / PAGE_SIZE;
        if (__builtin_wasm_memory_grow(0, pages) == (size_t)-1) return 0;
        heap_end += pages * PAGE_SIZE;
    }
    void *block = (void *)heap_top;
    heap_top += size;
    return block;
}

static void *allocate_class(uint32_t size_class) {
    void *block = free_lists[size_class];
    if (block) {
        free_lists[size_class] = *(void **)((uint8_t *)block + HEADER_SIZE);
        return block;
    }
    return carve((size_t)1 << size_class);
}

static void *allocate(size_t size, size_t alignment) {
    if (alignment < 16) alignment = 16;
    if (size > ((size_t)1 << MAX_CLASS) - HEADER_SIZE - alignment) return 0;
    size_t total = HEADER_SIZE + size + (alignment > 16 ? alignment : 0);
    uint32_t size_class = class_for(total);
    uint8_t *block = allocate_class(size_class);
    if (!block) return 0;
    uintptr_t payload = ((uintptr_t)block + HEADER_SIZE + alignment - 1) & ~(uintptr_t)(alignment - 1);
    header_t *header = (header_t *)(payload - HEADER_SIZE);
    header->size_class = size_class;
    header->offset = (uint32_t)(payload - (uintptr_t)block);
    header->magic = MAGIC_LIVE;
    return (void *)payload;
}

static size_t usable_size(void *pointer) {
    header_t *header = (header_t *)((uint8_t *)pointer - HEADER_SIZE);
    return ((size_t)1 << header->size_class) - header->offset;
}

void *malloc(size_t size) { return allocate(size, 16); }

void free(void *pointer) {
    if (!pointer) return;
    header_t *header = (header_t *)((uint8_t *)pointer - HEADER_SIZE);
    if (header->magic != MAGIC_LIVE) __builtin_trap();  // double free or a foreign pointer
    uint32_t size_class = header->size_class;
    uint8_t *block = (uint8_t *)pointer - header->offset;
    header->magic = MAGIC_FREE;
    *(void **)(block + HEADER_SIZE) = free_lists[size_class];
    free_lists[size_class] = block;
}

void *calloc(size_t count, size_t size) {
    if (size && count > (size_t)-1 / size) return 0;
    void *pointer = malloc(count * size);
    if (pointer) memset(pointer, 0, count * size);
    return pointer;
}

void *realloc(void *pointer, size_t size) {
    if (!pointer) return malloc(size);
    if (size == 0) {
        free(pointer);
        return 0;
    }
    size_t available = usable_size(pointer);
    if (size <= available) return pointer;
    void *grown = malloc(size);
    if (!grown) return 0;
    memcpy(grown, pointer, available);
    free(pointer);
    return grown;
}

int posix_memalign(void **result, size_t alignment, size_t size) {
    if (alignment == 0 || (alignment & (alignment - 1))) return 22;  // EINVAL
    void *pointer = allocate(size, alignment);
    if (!pointer) return 12;  // ENOMEM
    *result = pointer;
    return 0;
}

void *aligned_alloc(size_t alignment, size_t size) {
    void *pointer = 0;
    return posix_memalign(&pointer, alignment, size) == 0 ? pointer : 0;
}

// Names for the Swift side: Swift reserves `malloc`/`free` for its runtime.
void *thalo_malloc(size_t size) { return malloc(size); }
void *thalo_realloc(void *pointer, size_t size) { return realloc(pointer, size); }
void thalo_free(void *pointer) { free(pointer); }

// MARK: - Argument arena

// Chunks of argument memory. A reset keeps one chunk big enough for everything the
// last call needed, so a steady workload allocates nothing after warming up.
typedef struct chunk {
    struct chunk *previous;
    size_t capacity;
    size_t used;
} chunk_t;

#define CHUNK_HEADER ((sizeof(chunk_t) + 15u) & ~(size_t)15u)
#define ARENA_MIN_CHUNK 4096u
#define ARENA_KEEP_MAX (1u << 20)  // a chunk above 1 MiB is released after the call

static chunk_t *arena;
static size_t arena_total;  // bytes handed out since the last reset

static chunk_t *new_chunk(size_t capacity, chunk_t *previous) {
    chunk_t *chunk = malloc(CHUNK_HEADER + capacity);
    if (!chunk) return 0;
    chunk->previous = previous;
    chunk->capacity = capacity;
    chunk->used = 0;
    return chunk;
}

static void *arena_allocate(size_t size, size_t alignment) {
    if (alignment == 0) alignment = 1;
    if (arena) {
        uintptr_t base = (uintptr_t)arena + CHUNK_HEADER;
        uintptr_t start = (base + arena->used + alignment - 1) & ~(uintptr_t)(alignment - 1);
        if (start + size <= base + arena->capacity) {
            arena->used = start + size - base;
            arena_total += size + alignment;
            return (void *)start;
        }
    }
    size_t capacity = size + alignment;
    if (capacity < ARENA_MIN_CHUNK) capacity = ARENA_MIN_CHUNK;
    if (arena && capacity < arena->capacity * 2) capacity = arena->capacity * 2;
    chunk_t *chunk = new_chunk(capacity, arena);
    if (!chunk) return 0;
    arena = chunk;
    return arena_allocate(size, alignment);
}

/// Releases all argument memory. Called by the export glue at the end of every call.
void thalo_arena_reset(void) {
    if (!arena) return;
    if (arena->previous == 0 && arena->capacity <= ARENA_KEEP_MAX) {
        arena->used = 0;
        arena_total = 0;
        return;
    }
    size_t needed = arena_total;
    while (arena) {
        chunk_t *previous = arena->previous;
        free(arena);
        arena = previous;
    }
    arena_total = 0;
    if (needed <= ARENA_KEEP_MAX) arena = new_chunk(needed < ARENA_MIN_CHUNK ? ARENA_MIN_CHUNK : needed, 0);
}

/// Canonical ABI allocation for arguments. The host only ever allocates (`old` is 0);
/// the memory belongs to the current call and is released by `thalo_arena_reset`.
EXPORT("cabi_realloc")
void *cabi_realloc(void *old, size_t old_size, size_t alignment, size_t new_size) {
    void *pointer = arena_allocate(new_size ? new_size : 1, alignment);
    if (!pointer) __builtin_trap();
    if (old && old_size) memcpy(pointer, old, old_size < new_size ? old_size : new_size);
    return pointer;
}

/// The opt-in of docs/module-contract.md: the host may pack all arguments of a call into
/// one `cabi_realloc` block, because this module releases argument memory as a whole.
EXPORT("thalo_packed_arguments")
void thalo_packed_arguments(void) {}

// MARK: - Compiler support

// 128-bit multiplication, used by Swift's floating-point printing; wasm32 has no
// compiler-rt in the toolchain.
typedef struct { uint64_t low, high; } u128_t;

static uint64_t mul_high64(uint64_t a, uint64_t b) {
    uint64_t a_low = (uint32_t)a, a_high = a >> 32;
    uint64_t b_low = (uint32_t)b, b_high = b >> 32;
    uint64_t low_low = a_low * b_low;
    uint64_t high_low = a_high * b_low;
    uint64_t low_high = a_low * b_high;
    uint64_t high_high = a_high * b_high;
    uint64_t cross = (low_low >> 32) + (uint32_t)high_low + low_high;
    return high_high + (high_low >> 32) + (cross >> 32);
}

// The wasm32 ABI returns a 128-bit integer through a pointer in the first parameter.
void __multi3(u128_t *result, uint64_t a_low, uint64_t a_high, uint64_t b_low, uint64_t b_high) {
    result->low = a_low * b_low;
    result->high = mul_high64(a_low, b_low) + a_low * b_high + a_high * b_low;
}
