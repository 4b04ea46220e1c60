package dev.editr1.kernels;

import java.util.function.Function;
import java.util.function.Supplier;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;

/**
 * Native lifetimes by scope (JavaCPP's {@link PointerScope}): every tensor made inside a scope is
 * freed when the scope closes, so a sampling step or a micro-batch frees its intermediates as soon
 * as it ends. What a scope computes for its caller is kept: {@link #keep} runs a body in its own
 * scope and moves the tensors it names to the enclosing scope (or, outside any scope, leaves them to
 * their owner, who frees them with {@link #release}).
 *
 * <p>Reference counts: a pointer made inside a scope is attached to it (count 1). Keeping it
 * retains it before the inner scope closes (2 → 1 after the close), then attaches it to the outer
 * scope and drops the extra count (2 → 1, owned by the outer scope).
 */
public final class Scopes {
    private Scopes() {}

    /**
     * Runs {@code body} in a new scope; the tensors {@code survivors} names in its result outlive
     * it. The survivors must be tensors the body made (not its inputs).
     */
    public static <R> R keep(Supplier<R> body, Function<R, Tensor[]> survivors) {
        PointerScope outer = PointerScope.getInnerScope();
        R result;
        Tensor[] kept;
        try (PointerScope inner = new PointerScope()) {
            result = body.get();
            kept = survivors.apply(result);
            for (Tensor t : kept) if (t != null) t.retainReference();
        }
        if (outer != null)
            for (Tensor t : kept)
                if (t != null) {
                    outer.attach(t);
                    t.releaseReference();
                }
        return result;
    }

    /** {@link #keep} for a body that returns one tensor. */
    public static Tensor keep(Supplier<Tensor> body) {
        return keep(body, t -> new Tensor[] {t});
    }

    /**
     * Runs {@code body} in a scope of its own and returns its result with the tensors
     * {@code survivors} names owned by no scope (count 1): for a result made on one thread and used
     * on another, which takes them over with {@link #adopt}.
     */
    public static <R> R detach(Supplier<R> body, Function<R, Tensor[]> survivors) {
        R result;
        try (PointerScope inner = new PointerScope()) {
            result = body.get();
            for (Tensor t : survivors.apply(result)) if (t != null) t.retainReference();
        }
        return result;
    }

    /** Attaches tensors {@link #detach} handed over to the calling thread's innermost scope, if it has one. */
    public static void adopt(Tensor... ts) {
        PointerScope outer = PointerScope.getInnerScope();
        if (outer == null) return;
        for (Tensor t : ts)
            if (t != null) {
                outer.attach(t);
                t.releaseReference();
            }
    }

    /** Frees kept pointers that no scope owns (a no-op for null). */
    public static void release(Pointer... ps) {
        for (Pointer p : ps) if (p != null) p.releaseReference();
    }
}
