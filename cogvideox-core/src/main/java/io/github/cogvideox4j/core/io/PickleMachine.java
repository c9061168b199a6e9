package io.github.cogvideox4j.core.io;

import io.github.cogvideox4j.core.io.TorchSaveFormatException.Reason;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Deque;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An allowlist unpickler for the pickles inside {@code torch.save} archives (protocols 0 to 2; torch.save writes
 * 2). It is a data-only machine: it never loads a class, never constructs an object of a type named by the stream
 * and never calls anything. The only globals it accepts are {@code collections.OrderedDict},
 * {@code torch._utils._rebuild_tensor_v2}, {@code torch._utils._rebuild_parameter}, {@code torch.Size} and the
 * typed storages ({@code torch.FloatStorage} etc.); their effect is implemented here in Java. Everything else is a
 * {@link TorchSaveFormatException} at the opcode that names it, before the next byte is looked at.
 *
 * <p>Values: dict and OrderedDict become {@link LinkedHashMap}s, list and tuple {@link List}s, str
 * {@link String}, int {@link Long} (or {@link BigInteger} beyond 64 bits), float {@link Double}, bool
 * {@link Boolean}, None {@code null}, {@code torch.Size} a {@link TorchSize}, a rebuilt tensor a
 * {@link TorchTensor}. The result is deeply unmodifiable. Attributes an OrderedDict receives through BUILD (the
 * {@code _metadata} of a {@code state_dict}) are checked to be data and dropped.
 *
 * <p>Bounds: at most {@value #MAX_OBJECTS} values created and {@value #MAX_PUSHES} stack pushes, dict keys of at
 * most {@value #MAX_KEY_NODES} nodes, containers nested at most {@value #MAX_DEPTH} deep,
 * integers of at most {@value #MAX_INT_DIGITS} decimal digits ({@value #MAX_INT_BYTES} bytes), tensors of at most
 * {@value #MAX_RANK} dimensions; a structure that contains itself is refused; the stream must end with STOP with
 * exactly one value on the stack and nothing after it. Work is linear in the stream length. Package-private;
 * one instance per stream, not thread-safe.
 */
final class PickleMachine {
    static final int MAX_OBJECTS = 2_000_000;
    static final int MAX_DEPTH = 100;
    static final int MAX_INT_DIGITS = 256;
    static final int MAX_INT_BYTES = 128;
    static final int MAX_RANK = 64;
    static final int MAX_PUSHES = 8_000_000;
    static final int MAX_KEY_NODES = 256;
    private static final int UNHASHABLE = Integer.MAX_VALUE;

    /** Resolves a storage named by a persistent id; throws {@link TorchSaveFormatException} when it cannot. */
    interface StorageResolver {
        Storage resolve(String key, SafetensorsDType dtype, long numel, String location);
    }

    /** A storage named by a persistent id: its archive entry, dtype and element count. */
    record Storage(String key, String entry, SafetensorsDType dtype, long numel) {}

    /** The allowlisted callables. */
    private enum Callable {
        ORDERED_DICT("collections.OrderedDict"),
        REBUILD_TENSOR_V2("torch._utils._rebuild_tensor_v2"),
        REBUILD_PARAMETER("torch._utils._rebuild_parameter"),
        TORCH_SIZE("torch.Size");

        final String qualifiedName;

        Callable(String qualifiedName) {
            this.qualifiedName = qualifiedName;
        }
    }

    /** A typed storage class pushed by GLOBAL; valid only inside a persistent id. */
    private record StorageType(String name, SafetensorsDType dtype) {}

    private static final Map<String, Object> ALLOWED = allowed();

    private static Map<String, Object> allowed() {
        Map<String, Object> m = new HashMap<>();
        for (Callable c : Callable.values()) {
            m.put(c.qualifiedName, c);
        }
        Object[][] storages = {{"FloatStorage", SafetensorsDType.F32}, {"DoubleStorage", SafetensorsDType.F64},
            {"HalfStorage", SafetensorsDType.F16}, {"BFloat16Storage", SafetensorsDType.BF16},
            {"LongStorage", SafetensorsDType.I64}, {"IntStorage", SafetensorsDType.I32},
            {"ShortStorage", SafetensorsDType.I16}, {"CharStorage", SafetensorsDType.I8},
            {"ByteStorage", SafetensorsDType.U8}, {"BoolStorage", SafetensorsDType.BOOL}};
        for (Object[] s : storages) {
            m.put("torch." + s[0], new StorageType("torch." + s[0], (SafetensorsDType) s[1]));
        }
        return Collections.unmodifiableMap(m);
    }

    /** @return the allowlisted globals, {@code module.name}, sorted */
    static List<String> allowlist() {
        List<String> names = new ArrayList<>(ALLOWED.keySet());
        Collections.sort(names);
        return names;
    }

    /**
     * A tuple while unpickling: immutable; usable as a dict key when its items are, with its size as a key (nodes of
     * the expanded tree) bounded so that hashing and comparing keys stay cheap. Hash and key size are cached.
     */
    private static final class Tuple {
        final Object[] items;
        /** -1: not computed; otherwise the node count of the expanded key tree (saturated), or UNHASHABLE. */
        private int keyNodes = -1;
        private int hash;

        Tuple(Object[] items) {
            this.items = items;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Tuple t && (t == this || (t.hash == hash && Arrays.equals(items, t.items)));
        }

        @Override
        public int hashCode() {
            return hash;
        }
    }

    /** A dict or OrderedDict while unpickling. */
    private static final class Dict {
        final LinkedHashMap<Object, Object> map = new LinkedHashMap<>();
    }

    /** A list while unpickling. */
    private static final class PList {
        final ArrayList<Object> items = new ArrayList<>();
    }

    private final Path file;
    private final String entry;
    private final byte[] data;
    private final StorageResolver storages;
    private int pos;
    private int opStart;
    private int objects;
    private int pushes;
    private ArrayList<Object> stack = new ArrayList<>();
    private final Deque<ArrayList<Object>> metastack = new ArrayDeque<>();
    private final Map<Long, Object> memo = new HashMap<>();

    private PickleMachine(Path file, String entry, byte[] data, StorageResolver storages) {
        this.file = file;
        this.entry = entry;
        this.data = data;
        this.storages = storages;
    }

    /**
     * Runs a pickle.
     *
     * @param file the archive (for messages)
     * @param entry the pickle's entry name (for messages)
     * @param data the pickle bytes
     * @param storages resolves persistent ids
     * @return the unpickled value, deeply unmodifiable (see the class comment)
     * @throws TorchSaveFormatException if the stream is refused
     */
    static Object run(Path file, String entry, byte[] data, StorageResolver storages) {
        PickleMachine m = new PickleMachine(file, entry, data, storages);
        Object result = m.execute();
        return new Freezer(m).freeze(result, 0);
    }

    private TorchSaveFormatException fail(Reason reason, String detail) {
        return new TorchSaveFormatException(file, entry, null, reason, detail + " (at byte " + opStart + " of "
                + data.length + ")");
    }

    // ------------------------------------------------------------------------------------------------ the loop

    private Object execute() {
        while (true) {
            opStart = pos;
            if (pos >= data.length) {
                throw fail(Reason.TRUNCATED, "the pickle ends before STOP");
            }
            int op = data[pos++] & 0xFF;
            switch (op) {
                case 0x80 -> { // PROTO
                    int proto = u8();
                    if (proto > 2) {
                        throw fail(Reason.UNSUPPORTED, "pickle protocol " + proto + " (this reader takes protocols "
                                + "0 to 2; torch.save writes 2)");
                    }
                }
                case '.' -> { // STOP
                    Object value = pop();
                    if (!stack.isEmpty() || !metastack.isEmpty()) {
                        throw fail(Reason.MALFORMED_PICKLE, "STOP leaves " + stack.size() + " value(s) and "
                                + metastack.size() + " open MARK(s) behind");
                    }
                    if (pos != data.length) {
                        throw fail(Reason.MALFORMED_PICKLE, (data.length - pos) + " byte(s) after STOP");
                    }
                    return value;
                }
                case '(' -> { // MARK
                    metastack.push(stack);
                    stack = new ArrayList<>();
                }
                case '0' -> { // POP
                    if (stack.isEmpty()) {
                        popMark();
                    } else {
                        stack.remove(stack.size() - 1);
                    }
                }
                case '1' -> popMark(); // POP_MARK
                case '2' -> push(peek()); // DUP
                case 'N' -> push(null); // NONE
                case 0x88 -> push(Boolean.TRUE); // NEWTRUE
                case 0x89 -> push(Boolean.FALSE); // NEWFALSE
                case 'I' -> pushNew(textInt(line(), true)); // INT
                case 'J' -> pushNew((long) i32()); // BININT
                case 'K' -> pushNew((long) u8()); // BININT1
                case 'M' -> pushNew((long) u16()); // BININT2
                case 'L' -> pushNew(textLong(line())); // LONG
                case 0x8a -> pushNew(binLong(u8())); // LONG1
                case 0x8b -> { // LONG4
                    int n = i32();
                    if (n < 0) {
                        throw fail(Reason.MALFORMED_PICKLE, "LONG4 with negative length " + n);
                    }
                    pushNew(binLong(n));
                }
                case 'F' -> pushNew(textFloat(line())); // FLOAT
                case 'G' -> pushNew(ByteBuffer.wrap(bytes(8)).order(ByteOrder.BIG_ENDIAN).getDouble()); // BINFLOAT
                case 'X' -> pushNew(utf8(bytes(u32Length()))); // BINUNICODE
                case 'V' -> pushNew(rawUnicodeEscape(line())); // UNICODE
                case 'S' -> pushNew(utf8(quotedString(line()))); // STRING
                case 'T' -> { // BINSTRING
                    int n = i32();
                    if (n < 0) {
                        throw fail(Reason.MALFORMED_PICKLE, "BINSTRING with negative length " + n);
                    }
                    pushNew(utf8(bytes(n)));
                }
                case 'U' -> pushNew(utf8(bytes(u8()))); // SHORT_BINSTRING
                case ']' -> pushNew(new PList()); // EMPTY_LIST
                case '}' -> pushNew(new Dict()); // EMPTY_DICT
                case ')' -> pushNew(new Tuple(new Object[0])); // EMPTY_TUPLE
                case 'l' -> { // LIST
                    PList l = new PList();
                    l.items.addAll(popMark());
                    pushNew(l);
                }
                case 't' -> pushNew(new Tuple(popMark().toArray())); // TUPLE
                case 0x85 -> pushNew(tupleOf(1)); // TUPLE1
                case 0x86 -> pushNew(tupleOf(2)); // TUPLE2
                case 0x87 -> pushNew(tupleOf(3)); // TUPLE3
                case 'd' -> { // DICT
                    Dict d = new Dict();
                    putPairs(d, popMark());
                    pushNew(d);
                }
                case 'a' -> { // APPEND
                    Object v = pop();
                    list(peek(), "APPEND").items.add(v);
                }
                case 'e' -> { // APPENDS
                    List<Object> items = popMark();
                    list(peek(), "APPENDS").items.addAll(items);
                }
                case 's' -> { // SETITEM
                    Object v = pop();
                    Object k = pop();
                    put(dict(peek(), "SETITEM"), k, v);
                }
                case 'u' -> { // SETITEMS
                    List<Object> items = popMark();
                    putPairs(dict(peek(), "SETITEMS"), items);
                }
                case 'p' -> memoPut(textIndex(line())); // PUT
                case 'q' -> memoPut(u8()); // BINPUT
                case 'r' -> memoPut(u32()); // LONG_BINPUT
                case 'g' -> memoGet(textIndex(line())); // GET
                case 'h' -> memoGet(u8()); // BINGET
                case 'j' -> memoGet(u32()); // LONG_BINGET
                case 'c' -> global(line(), line()); // GLOBAL
                case 'R' -> reduce(); // REDUCE
                case 'b' -> build(); // BUILD
                case 'Q' -> pushNew(persistent(pop())); // BINPERSID
                case 'P' -> pushNew(persistent(utf8(line()))); // PERSID
                case 'i', 'o', 0x81, 0x82, 0x83, 0x84 -> throw fail(Reason.FORBIDDEN_OPCODE, "opcode "
                        + opcodeName(op) + " constructs objects of classes named by the stream; this reader never "
                        + "does");
                default -> throw fail(Reason.UNKNOWN_OPCODE, "opcode " + opcodeName(op)
                        + " is not part of pickle protocols 0 to 2");
            }
        }
    }

    private static String opcodeName(int op) {
        String name = switch (op) {
            case 'i' -> "INST";
            case 'o' -> "OBJ";
            case 0x81 -> "NEWOBJ";
            case 0x82 -> "EXT1";
            case 0x83 -> "EXT2";
            case 0x84 -> "EXT4";
            case 'B' -> "BINBYTES (protocol 3)";
            case 'C' -> "SHORT_BINBYTES (protocol 3)";
            case 0x8c -> "SHORT_BINUNICODE (protocol 4)";
            case 0x8d -> "BINUNICODE8 (protocol 4)";
            case 0x8e -> "BINBYTES8 (protocol 4)";
            case 0x8f -> "EMPTY_SET (protocol 4)";
            case 0x90 -> "ADDITEMS (protocol 4)";
            case 0x91 -> "FROZENSET (protocol 4)";
            case 0x92 -> "NEWOBJ_EX (protocol 4)";
            case 0x93 -> "STACK_GLOBAL (protocol 4)";
            case 0x94 -> "MEMOIZE (protocol 4)";
            case 0x95 -> "FRAME (protocol 4)";
            case 0x96 -> "BYTEARRAY8 (protocol 5)";
            case 0x97 -> "NEXT_BUFFER (protocol 5)";
            case 0x98 -> "READONLY_BUFFER (protocol 5)";
            default -> null;
        };
        String hex = String.format("0x%02x", op);
        return name == null ? hex : hex + " " + name;
    }

    // ------------------------------------------------------------------------------------------------ stack

    private void push(Object v) {
        if (++pushes > MAX_PUSHES) {
            throw fail(Reason.LIMIT_EXCEEDED, "more than " + MAX_PUSHES + " stack pushes");
        }
        stack.add(v);
    }

    private void pushNew(Object v) {
        if (++objects > MAX_OBJECTS) {
            throw fail(Reason.LIMIT_EXCEEDED, "more than " + MAX_OBJECTS + " values");
        }
        push(v);
    }

    private Object pop() {
        if (stack.isEmpty()) {
            throw fail(Reason.MALFORMED_PICKLE, "stack underflow");
        }
        return stack.remove(stack.size() - 1);
    }

    private Object peek() {
        if (stack.isEmpty()) {
            throw fail(Reason.MALFORMED_PICKLE, "stack underflow");
        }
        return stack.get(stack.size() - 1);
    }

    private List<Object> popMark() {
        if (metastack.isEmpty()) {
            throw fail(Reason.MALFORMED_PICKLE, "no MARK to pop");
        }
        List<Object> items = stack;
        stack = metastack.pop();
        return items;
    }

    private Tuple tupleOf(int n) {
        if (stack.size() < n) {
            throw fail(Reason.MALFORMED_PICKLE, "stack underflow");
        }
        List<Object> top = stack.subList(stack.size() - n, stack.size());
        Object[] items = top.toArray();
        top.clear();
        return new Tuple(items);
    }

    private void memoPut(long index) {
        if (!memo.containsKey(index) && memo.size() >= MAX_OBJECTS) {
            throw fail(Reason.LIMIT_EXCEEDED, "more than " + MAX_OBJECTS + " memo entries");
        }
        memo.put(index, peek());
    }

    private void memoGet(long index) {
        if (!memo.containsKey(index)) {
            throw fail(Reason.MALFORMED_PICKLE, "memo entry " + index + " was never stored");
        }
        push(memo.get(index));
    }

    private PList list(Object target, String op) {
        if (target instanceof PList l) {
            return l;
        }
        throw fail(Reason.MALFORMED_PICKLE, op + " on " + typeName(target) + ", expected a list");
    }

    private Dict dict(Object target, String op) {
        if (target instanceof Dict d) {
            return d;
        }
        throw fail(Reason.MALFORMED_PICKLE, op + " on " + typeName(target) + ", expected a dict");
    }

    private void putPairs(Dict d, List<Object> items) {
        if (items.size() % 2 != 0) {
            throw fail(Reason.MALFORMED_PICKLE, "odd number of items (" + items.size() + ") for a dict");
        }
        for (int i = 0; i < items.size(); i += 2) {
            put(d, items.get(i), items.get(i + 1));
        }
    }

    private void put(Dict d, Object key, Object value) {
        if (keyNodes(key) == UNHASHABLE) {
            throw fail(Reason.MALFORMED_PICKLE, "unhashable dict key of type " + typeName(key)
                    + (key instanceof Tuple ? " (holding a mutable value, or larger than " + MAX_KEY_NODES
                            + " items in all)" : ""));
        }
        d.map.put(key, value);
    }

    /**
     * Dict keys must be immutable: str, int, float, bool, None, or tuples of those of at most
     * {@link #MAX_KEY_NODES} nodes in all. Computes (and caches in the tuple) the key's node count and hash.
     *
     * @return the node count, or {@link #UNHASHABLE}
     */
    private static int keyNodes(Object key) {
        if (key == null || key instanceof String || key instanceof Long || key instanceof BigInteger
                || key instanceof Double || key instanceof Boolean) {
            return 1;
        }
        if (!(key instanceof Tuple t)) {
            return UNHASHABLE;
        }
        if (t.keyNodes < 0) {
            long nodes = 1;
            int hash = 1;
            for (Object item : t.items) {
                int n = keyNodes(item); // items' counts are cached: each tuple is counted once
                nodes = n == UNHASHABLE ? UNHASHABLE : nodes + n;
                if (nodes > MAX_KEY_NODES) {
                    nodes = UNHASHABLE;
                    break;
                }
                hash = 31 * hash + (item == null ? 0 : item.hashCode());
            }
            t.hash = hash;
            t.keyNodes = (int) nodes;
        }
        return t.keyNodes;
    }

    // ------------------------------------------------------------------------------------------------ globals

    private void global(byte[] module, byte[] name) {
        String qualified = ascii(module) + "." + ascii(name);
        Object allowed = ALLOWED.get(qualified);
        if (allowed == null) {
            throw fail(Reason.FORBIDDEN_GLOBAL, "GLOBAL " + qualified + " is not in the allowlist "
                    + allowlist());
        }
        push(allowed);
    }

    private void reduce() {
        Object args = pop();
        Object callable = pop();
        if (!(callable instanceof Callable c)) {
            throw fail(Reason.MALFORMED_PICKLE, "REDUCE calls " + describeCallable(callable)
                    + "; only collections.OrderedDict, torch._utils._rebuild_tensor_v2, "
                    + "torch._utils._rebuild_parameter and torch.Size can be called");
        }
        if (!(args instanceof Tuple t)) {
            throw fail(Reason.MALFORMED_PICKLE, "REDUCE arguments are a " + typeName(args) + ", expected a tuple");
        }
        Object[] a = t.items;
        switch (c) {
            case ORDERED_DICT -> {
                if (a.length != 0) {
                    throw fail(Reason.MALFORMED_PICKLE, "OrderedDict called with " + a.length + " argument(s), "
                            + "expected none (torch.save fills it with SETITEMS)");
                }
                pushNew(new Dict());
            }
            case TORCH_SIZE -> {
                if (a.length != 1 || !(a[0] instanceof Tuple dims)) {
                    throw fail(Reason.MALFORMED_PICKLE, "torch.Size expects one tuple argument");
                }
                pushNew(new TorchSize(longs(dims, "torch.Size")));
            }
            case REBUILD_TENSOR_V2 -> pushNew(rebuildTensor(a));
            case REBUILD_PARAMETER -> {
                if (a.length != 3 || !(a[0] instanceof TorchTensor data) || !(a[1] instanceof Boolean grad)) {
                    throw fail(Reason.MALFORMED_PICKLE, "_rebuild_parameter expects (tensor, bool, OrderedDict)");
                }
                requireEmptyHooks(a[2], "_rebuild_parameter");
                pushNew(new TorchTensor(data.entry(), data.storageKey(), data.dtype(), data.storageNumel(),
                        data.storageOffset(), data.shape(), data.stride(), grad));
            }
            default -> throw new AssertionError(c);
        }
    }

    private static String describeCallable(Object o) {
        if (o instanceof StorageType s) {
            return s.name() + " (a storage type is only valid inside a persistent id)";
        }
        return "a " + typeName(o);
    }

    private TorchTensor rebuildTensor(Object[] a) {
        if (a.length != 6 && a.length != 7) {
            throw fail(Reason.MALFORMED_PICKLE, "_rebuild_tensor_v2 called with " + a.length + " arguments, expected"
                    + " 6 or 7");
        }
        if (!(a[0] instanceof Storage storage)) {
            throw fail(Reason.MALFORMED_PICKLE, "_rebuild_tensor_v2: the first argument is a " + typeName(a[0])
                    + ", expected a storage (persistent id)");
        }
        if (!(a[1] instanceof Long offset)) {
            throw fail(Reason.OUT_OF_BOUNDS, "_rebuild_tensor_v2: storage offset is " + describe(a[1]));
        }
        if (!(a[2] instanceof Tuple || a[2] instanceof TorchSize) || !(a[3] instanceof Tuple strideTuple)) {
            throw fail(Reason.MALFORMED_PICKLE, "_rebuild_tensor_v2: size and stride must be tuples, got "
                    + typeName(a[2]) + " and " + typeName(a[3]));
        }
        if (!(a[4] instanceof Boolean grad)) {
            throw fail(Reason.MALFORMED_PICKLE, "_rebuild_tensor_v2: requires_grad is a " + typeName(a[4]));
        }
        requireEmptyHooks(a[5], "_rebuild_tensor_v2");
        if (a.length == 7 && a[6] != null && !(a[6] instanceof Dict d && d.map.isEmpty())) {
            throw fail(Reason.UNSUPPORTED, "_rebuild_tensor_v2: tensor metadata " + typeName(a[6])
                    + " (conjugate/negative bits or subclass state) is not supported");
        }
        List<Long> size = a[2] instanceof TorchSize s ? s.dims() : longs((Tuple) a[2], "size");
        List<Long> stride = longs(strideTuple, "stride");
        if (size.size() != stride.size()) {
            throw fail(Reason.OUT_OF_BOUNDS, "size " + size + " and stride " + stride + " have different ranks");
        }
        if (size.size() > MAX_RANK) {
            throw fail(Reason.LIMIT_EXCEEDED, "tensor of rank " + size.size() + ", more than " + MAX_RANK);
        }
        long[] shape = new long[size.size()];
        long[] strides = new long[size.size()];
        long numel = 1;
        long last = offset;
        try {
            for (int i = 0; i < shape.length; i++) {
                shape[i] = size.get(i);
                strides[i] = stride.get(i);
                if (shape[i] < 0 || strides[i] < 0) {
                    throw fail(Reason.OUT_OF_BOUNDS, "negative size or stride: size " + size + ", stride " + stride);
                }
                numel = Math.multiplyExact(numel, shape[i]);
            }
            if (offset < 0) {
                throw fail(Reason.OUT_OF_BOUNDS, "negative storage offset " + offset);
            }
            if (numel > 0) {
                for (int i = 0; i < shape.length; i++) {
                    last = Math.addExact(last, Math.multiplyExact(shape[i] - 1, strides[i]));
                }
            }
        } catch (ArithmeticException e) {
            throw fail(Reason.OUT_OF_BOUNDS, "size " + size + ", stride " + stride + " and offset " + offset
                    + " overflow 64 bits");
        }
        boolean inside = numel == 0 ? offset <= storage.numel() : last < storage.numel();
        if (!inside) {
            throw fail(Reason.OUT_OF_BOUNDS, "view (offset " + offset + ", size " + size + ", stride " + stride
                    + ") reaches element " + (numel == 0 ? offset : last) + " of storage '" + storage.key()
                    + "', which holds " + storage.numel() + " " + storage.dtype() + " elements");
        }
        return new TorchTensor(storage.entry(), storage.key(), storage.dtype(), storage.numel(), offset, shape,
                strides, grad);
    }

    private void requireEmptyHooks(Object hooks, String where) {
        if (!(hooks instanceof Dict d) || !d.map.isEmpty()) {
            throw fail(Reason.MALFORMED_PICKLE, where + ": backward hooks must be an empty OrderedDict, got "
                    + describe(hooks));
        }
    }

    private List<Long> longs(Tuple t, String what) {
        List<Long> out = new ArrayList<>(t.items.length);
        for (Object o : t.items) {
            if (!(o instanceof Long l)) {
                throw fail(Reason.OUT_OF_BOUNDS, what + " holds " + describe(o) + ", expected 64-bit integers");
            }
            out.add(l);
        }
        return out;
    }

    private void build() {
        Object state = pop();
        Object target = peek();
        if (!(target instanceof Dict)) {
            throw fail(Reason.MALFORMED_PICKLE, "BUILD on a " + typeName(target) + "; only the attributes of an "
                    + "OrderedDict (a state_dict's _metadata) can be set");
        }
        if (state != null && !(state instanceof Dict)) {
            throw fail(Reason.MALFORMED_PICKLE, "BUILD state is a " + typeName(state) + ", expected a dict");
        }
        // the attributes (state_dict._metadata) are data built by allowlisted operations: dropped
    }

    private Storage persistent(Object pid) {
        if (!(pid instanceof Tuple t) || t.items.length != 5 || !"storage".equals(t.items[0])) {
            throw fail(Reason.BAD_STORAGE, "persistent id " + describe(pid) + ", expected ('storage', storage type, "
                    + "key, location, size)");
        }
        Object[] a = t.items;
        if (!(a[1] instanceof StorageType type)) {
            throw fail(Reason.BAD_STORAGE, "persistent id names storage type " + describe(a[1]));
        }
        if (!(a[2] instanceof String key) || !(a[3] instanceof String location) || !(a[4] instanceof Long numel)
                || numel < 0) {
            throw fail(Reason.BAD_STORAGE, "persistent id needs a string key, a string location and a size >= 0, got "
                    + describe(a[2]) + ", " + describe(a[3]) + ", " + describe(a[4]));
        }
        return storages.resolve(key, type.dtype(), numel, location);
    }

    // ------------------------------------------------------------------------------------------------ reading

    private int u8() {
        need(1);
        return data[pos++] & 0xFF;
    }

    private int u16() {
        need(2);
        int v = (data[pos] & 0xFF) | (data[pos + 1] & 0xFF) << 8;
        pos += 2;
        return v;
    }

    private int i32() {
        need(4);
        int v = (data[pos] & 0xFF) | (data[pos + 1] & 0xFF) << 8 | (data[pos + 2] & 0xFF) << 16
                | (data[pos + 3] & 0xFF) << 24;
        pos += 4;
        return v;
    }

    private long u32() {
        return i32() & 0xFFFFFFFFL;
    }

    private int u32Length() {
        long n = u32();
        if (n > data.length - pos) {
            throw fail(Reason.TRUNCATED, "a " + n + "-byte argument, but only " + (data.length - pos)
                    + " byte(s) remain");
        }
        return (int) n;
    }

    private byte[] bytes(int n) {
        need(n);
        byte[] b = Arrays.copyOfRange(data, pos, pos + n);
        pos += n;
        return b;
    }

    private void need(int n) {
        if (n > data.length - pos) {
            throw fail(Reason.TRUNCATED, "the pickle ends inside an opcode's argument (" + n + " byte(s) needed, "
                    + (data.length - pos) + " remain)");
        }
    }

    /** A newline-terminated argument, without the newline. */
    private byte[] line() {
        for (int i = pos; i < data.length; i++) {
            if (data[i] == '\n') {
                byte[] b = Arrays.copyOfRange(data, pos, i);
                pos = i + 1;
                return b;
            }
        }
        throw fail(Reason.TRUNCATED, "the pickle ends inside a text argument (no newline)");
    }

    private String ascii(byte[] b) {
        for (byte x : b) {
            if (x < 0x20 || x > 0x7E) {
                throw fail(Reason.MALFORMED_PICKLE, "non-printable byte in a GLOBAL name");
            }
        }
        return new String(b, StandardCharsets.US_ASCII);
    }

    private String utf8(byte[] b) {
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(b)).toString();
        } catch (CharacterCodingException e) {
            throw fail(Reason.MALFORMED_PICKLE, "a string is not valid UTF-8");
        }
    }

    private Object textInt(byte[] line, boolean boolForms) {
        String s = new String(line, StandardCharsets.US_ASCII).trim();
        if (boolForms && s.equals("00")) {
            return Boolean.FALSE;
        }
        if (boolForms && s.equals("01")) {
            return Boolean.TRUE;
        }
        return integer(s);
    }

    private Object textLong(byte[] line) {
        String s = new String(line, StandardCharsets.US_ASCII).trim();
        if (s.endsWith("L")) {
            s = s.substring(0, s.length() - 1);
        }
        return integer(s);
    }

    private Object integer(String s) {
        if (!s.matches("[+-]?[0-9]+")) {
            throw fail(Reason.MALFORMED_PICKLE, "'" + abbreviate(s) + "' is not an integer");
        }
        if (s.length() > MAX_INT_DIGITS) {
            throw fail(Reason.LIMIT_EXCEEDED, "an integer of " + s.length() + " digits, more than " + MAX_INT_DIGITS);
        }
        return normalize(new BigInteger(s));
    }

    private long textIndex(byte[] line) {
        Object v = integer(new String(line, StandardCharsets.US_ASCII).trim());
        if (!(v instanceof Long l) || l < 0) {
            throw fail(Reason.MALFORMED_PICKLE, "memo index " + v);
        }
        return l;
    }

    private Object binLong(int n) {
        if (n > MAX_INT_BYTES) {
            throw fail(Reason.LIMIT_EXCEEDED, "an integer of " + n + " bytes, more than " + MAX_INT_BYTES);
        }
        byte[] le = bytes(n);
        if (n == 0) {
            return 0L;
        }
        byte[] be = new byte[n];
        for (int i = 0; i < n; i++) {
            be[i] = le[n - 1 - i];
        }
        return normalize(new BigInteger(be));
    }

    private static Object normalize(BigInteger v) {
        return v.bitLength() < 64 ? (Object) v.longValue() : v;
    }

    private Double textFloat(byte[] line) {
        String s = new String(line, StandardCharsets.US_ASCII).trim();
        if (s.length() > 64) {
            throw fail(Reason.LIMIT_EXCEEDED, "a float of " + s.length() + " characters");
        }
        switch (s.toLowerCase(java.util.Locale.ROOT)) {
            case "inf", "+inf" -> {
                return Double.POSITIVE_INFINITY;
            }
            case "-inf" -> {
                return Double.NEGATIVE_INFINITY;
            }
            case "nan", "+nan", "-nan" -> {
                return Double.NaN;
            }
            default -> {
                if (!s.matches("[+-]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][+-]?[0-9]+)?")) {
                    throw fail(Reason.MALFORMED_PICKLE, "'" + abbreviate(s) + "' is not a float");
                }
                return Double.parseDouble(s);
            }
        }
    }

    /** Python's raw-unicode-escape: latin-1 bytes, with backslash-u and backslash-U escapes. */
    private String rawUnicodeEscape(byte[] line) {
        StringBuilder sb = new StringBuilder(line.length);
        for (int i = 0; i < line.length; i++) {
            int c = line[i] & 0xFF;
            if (c == '\\' && i + 1 < line.length && (line[i + 1] == 'u' || line[i + 1] == 'U')) {
                int digits = line[i + 1] == 'u' ? 4 : 8;
                if (i + 2 + digits > line.length) {
                    throw fail(Reason.MALFORMED_PICKLE, "truncated \\u escape in UNICODE");
                }
                String hex = new String(line, i + 2, digits, StandardCharsets.US_ASCII);
                int cp;
                try {
                    cp = Integer.parseUnsignedInt(hex, 16);
                } catch (NumberFormatException e) {
                    throw fail(Reason.MALFORMED_PICKLE, "bad \\u escape '" + hex + "' in UNICODE");
                }
                if (!Character.isValidCodePoint(cp)) {
                    throw fail(Reason.MALFORMED_PICKLE, "code point " + hex + " out of range in UNICODE");
                }
                sb.appendCodePoint(cp);
                i += 1 + digits;
            } else {
                sb.append((char) c);
            }
        }
        return sb.toString();
    }

    /** The bytes of a protocol-0 STRING argument: a quoted Python literal with backslash escapes. */
    private byte[] quotedString(byte[] line) {
        if (line.length < 2 || (line[0] != '\'' && line[0] != '"') || line[line.length - 1] != line[0]) {
            throw fail(Reason.MALFORMED_PICKLE, "STRING argument is not quoted");
        }
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(line.length);
        for (int i = 1; i < line.length - 1; i++) {
            int c = line[i] & 0xFF;
            if (c != '\\') {
                out.write(c);
                continue;
            }
            if (++i >= line.length - 1) {
                throw fail(Reason.MALFORMED_PICKLE, "STRING ends with a backslash");
            }
            int e = line[i] & 0xFF;
            switch (e) {
                case '\\', '\'', '"' -> out.write(e);
                case 'n' -> out.write('\n');
                case 'r' -> out.write('\r');
                case 't' -> out.write('\t');
                case 'a' -> out.write(7);
                case 'b' -> out.write(8);
                case 'f' -> out.write(12);
                case 'v' -> out.write(11);
                case 'x' -> {
                    if (i + 2 >= line.length) {
                        throw fail(Reason.MALFORMED_PICKLE, "truncated \\x escape in STRING");
                    }
                    try {
                        out.write(Integer.parseInt(new String(line, i + 1, 2, StandardCharsets.US_ASCII), 16));
                    } catch (NumberFormatException ex) {
                        throw fail(Reason.MALFORMED_PICKLE, "bad \\x escape in STRING");
                    }
                    i += 2;
                }
                default -> {
                    if (e >= '0' && e <= '7') {
                        int v = e - '0';
                        int k = 1;
                        while (k < 3 && i + 1 < line.length - 1 && line[i + 1] >= '0' && line[i + 1] <= '7') {
                            v = v * 8 + (line[++i] - '0');
                            k++;
                        }
                        out.write(v & 0xFF);
                    } else {
                        throw fail(Reason.MALFORMED_PICKLE, "unknown escape \\" + (char) e + " in STRING");
                    }
                }
            }
        }
        return out.toByteArray();
    }

    private static String abbreviate(String s) {
        return s.length() <= 40 ? s : s.substring(0, 40) + "...";
    }

    private static String describe(Object o) {
        if (o == null) {
            return "None";
        }
        if (o instanceof String s) {
            return "'" + abbreviate(s) + "'";
        }
        if (o instanceof Long || o instanceof Boolean || o instanceof Double || o instanceof BigInteger) {
            return abbreviate(String.valueOf(o));
        }
        return "a " + typeName(o);
    }

    private static String typeName(Object o) {
        if (o == null) {
            return "None";
        }
        if (o instanceof Tuple) {
            return "tuple";
        }
        if (o instanceof PList) {
            return "list";
        }
        if (o instanceof Dict) {
            return "dict";
        }
        if (o instanceof Callable c) {
            return c.qualifiedName;
        }
        if (o instanceof StorageType s) {
            return s.name();
        }
        if (o instanceof Storage) {
            return "storage";
        }
        if (o instanceof TorchTensor) {
            return "tensor";
        }
        if (o instanceof TorchSize) {
            return "torch.Size";
        }
        if (o instanceof String) {
            return "str";
        }
        if (o instanceof Long || o instanceof BigInteger) {
            return "int";
        }
        if (o instanceof Double) {
            return "float";
        }
        if (o instanceof Boolean) {
            return "bool";
        }
        return o.getClass().getSimpleName();
    }

    // ------------------------------------------------------------------------------------------------ freezing

    /**
     * Turns the unpickling containers into unmodifiable Java collections, once per distinct container (shared
     * references stay shared), refusing cycles and nesting deeper than {@link #MAX_DEPTH}.
     */
    private static final class Freezer {
        private final PickleMachine machine;
        private final IdentityHashMap<Object, Object> done = new IdentityHashMap<>();
        private final IdentityHashMap<Object, Boolean> inProgress = new IdentityHashMap<>();

        Freezer(PickleMachine machine) {
            this.machine = machine;
        }

        Object freeze(Object o, int depth) {
            if (!(o instanceof Tuple || o instanceof PList || o instanceof Dict)) {
                if (o instanceof Callable || o instanceof StorageType || o instanceof Storage) {
                    throw machine.fail(Reason.MALFORMED_PICKLE, "the result holds " + typeName(o)
                            + " itself, not a value built from it");
                }
                return o;
            }
            Object frozen = done.get(o);
            if (frozen != null) {
                return frozen;
            }
            if (inProgress.containsKey(o)) {
                throw machine.fail(Reason.MALFORMED_PICKLE, "the structure contains itself (a " + typeName(o)
                        + " reachable from its own items)");
            }
            if (depth >= MAX_DEPTH) {
                throw machine.fail(Reason.LIMIT_EXCEEDED, "containers nested more than " + MAX_DEPTH + " deep");
            }
            inProgress.put(o, Boolean.TRUE);
            Object result;
            if (o instanceof Dict d) {
                LinkedHashMap<Object, Object> m = new LinkedHashMap<>();
                for (Map.Entry<Object, Object> e : d.map.entrySet()) {
                    m.put(freeze(e.getKey(), depth + 1), freeze(e.getValue(), depth + 1));
                }
                result = Collections.unmodifiableMap(m);
            } else {
                Object[] items = o instanceof Tuple t ? t.items : ((PList) o).items.toArray();
                Object[] out = new Object[items.length];
                for (int i = 0; i < items.length; i++) {
                    out[i] = freeze(items[i], depth + 1);
                }
                result = Collections.unmodifiableList(Arrays.asList(out));
            }
            inProgress.remove(o);
            done.put(o, result);
            return result;
        }
    }
}
