package dev.engram.core.index;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The per-ordinal state word both indexes keep: {@code 0} (empty), then bit flags set by
 * compare-and-set. {@link #CLAIMED} is set by the one add that wins the slot, then the index's own
 * "readable" flag once the add is complete (only then is the ordinal present), and {@link #DELETED}
 * by a remove of a present ordinal. An add that fails after claiming hands the slot back (each
 * index says how); no other transition clears a flag.
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

  /**
   * Marks a present slot (one with the index's {@code readable} flag) deleted; false if it is not
   * present: empty, still being added, or already deleted.
   */
  static boolean tombstone(int[] states, int slot, int readable) {
    while (true) {
      int state = (int) INTS.getVolatile(states, slot);
      if ((state & readable) == 0 || (state & DELETED) != 0) {
        return false;
      }
      if (INTS.compareAndSet(states, slot, state, state | DELETED)) {
        return true;
      }
    }
  }
}
