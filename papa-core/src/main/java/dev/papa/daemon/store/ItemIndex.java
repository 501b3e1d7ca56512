package dev.papa.daemon.store;

/**
 * Where each queued item starts in the ring, oldest first: a growable ring of ints on the heap
 * (4 bytes per item), so that an item is found by its sequence number without walking. Rebuilt
 * by {@link StoreWalk} when a store is opened.
 */
final class ItemIndex {
    private int[] offsets = new int[16];
    private int head;
    private int size;

    void add(int offset) {
        if (size == offsets.length) grow();
        offsets[(head + size) & (offsets.length - 1)] = offset;
        size++;
    }

    /** The offset of the i-th item from the oldest. */
    int get(int i) {
        return offsets[(head + i) & (offsets.length - 1)];
    }

    int removeFirst() {
        int o = offsets[head];
        head = (head + 1) & (offsets.length - 1);
        if (--size == 0) head = 0;
        return o;
    }

    int size() { return size; }

    private void grow() {
        int[] n = new int[offsets.length * 2];
        for (int i = 0; i < size; i++) n[i] = get(i);
        offsets = n;
        head = 0;
    }
}
