package dev.engram.core.index;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The per-ordinal state word both indexes keep: {@code 0} (empty), then bit flags set by
 * compare-and-set, never cleared. {@link #CLAIMED} is set by the one add that wins the slot, {@link
 * #DELETED} by remove; each index adds its own "readable" flag in between.
 *
 * <p>Thread-safety: stateless; every operation is a volatile or CAS access to the array element.
 */
final class SlotStates {
  static final int CLAIMED = 1;
  static final int DELETED = 4;
  static final VarHandle INTS = MethodHandles.arrayElementVarHandle(int[].class);

  private SlotStates() {}

  /** Sets {@code flag} on the slot, keeping the other bits. */
  static void setFlag(int[] states, int slot, int flag) {
    int state;
    do {
      state = (int) INTS.getVolatile(states, slot);
    } while (!INTS.compareAndSet(states, slot, state, state | flag));
  }

  /** Marks a claimed, live slot deleted; false if it is empty or already deleted. */
  static boolean tombstone(int[] states, int slot) {
    while (true) {
      int state = (int) INTS.getVolatile(states, slot);
      if (state == 0 || (state & DELETED) != 0) {
        return false;
      }
      if (INTS.compareAndSet(states, slot, state, state | DELETED)) {
        return true;
      }
    }
  }
}
