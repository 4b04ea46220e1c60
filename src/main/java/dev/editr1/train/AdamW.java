package dev.editr1.train;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;

import dev.editr1.model.ParamStore;

/**
 * AdamW (decoupled weight decay) over a {@link ParamStore}, with gradient-norm clipping. Its state
 * (the two moments and the step) is plain named tensors, saved with checkpoints so a resumed run
 * continues bit for bit.
 */
public final class AdamW {
    private final ParamStore params;
    private final double beta1, beta2, eps, weightDecay;
    private final ParamStore m = new ParamStore(), v = new ParamStore();
    private long step;

    public AdamW(ParamStore params, double beta1, double beta2, double eps, double weightDecay) {
        this.params = params;
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        for (Map.Entry<String, Tensor> e : params.asMap().entrySet()) {
            m.put(e.getKey(), e.getValue().detach().mul(new Scalar(0.0)));
            v.put(e.getKey(), e.getValue().detach().mul(new Scalar(0.0)));
        }
    }

    public long step() {
        return step;
    }

    /** Scales the gradients so their global L2 norm is at most maxNorm; returns the norm before. */
    public double clipGradNorm(double maxNorm) {
        try (NoGradGuard g = new NoGradGuard()) {
            double total = 0;
            List<Tensor> grads = new ArrayList<>();
            for (Tensor p : params.tensors()) {
                Tensor gr = p.grad();
                if (gr == null || !gr.defined()) continue;
                grads.add(gr);
                double n = gr.square().sum().item_double();
                total += n;
            }
            double norm = Math.sqrt(total);
            if (norm > maxNorm) {
                double s = maxNorm / (norm + 1e-6);
                for (Tensor gr : grads) gr.mul_(new Scalar(s));
            }
            return norm;
        }
    }

    public void step(double lr) {
        step++;
        double bc1 = 1 - Math.pow(beta1, step), bc2 = 1 - Math.pow(beta2, step);
        try (NoGradGuard g = new NoGradGuard()) {
            for (Map.Entry<String, Tensor> e : params.asMap().entrySet()) {
                Tensor p = e.getValue(), gr = p.grad();
                if (gr == null || !gr.defined()) continue;
                Tensor mm = m.get(e.getKey()), vv = v.get(e.getKey());
                p.mul_(new Scalar(1 - lr * weightDecay));
                mm.mul_(new Scalar(beta1)).add_(gr, new Scalar(1 - beta1));
                vv.mul_(new Scalar(beta2)).addcmul_(gr, gr, new Scalar(1 - beta2));
                Tensor denom = vv.div(new Scalar(bc2)).sqrt().add(new Scalar(eps));
                p.sub_(mm.div(denom), new Scalar(lr / bc1));
            }
        }
    }

    public void zeroGrad() {
        for (Tensor p : params.tensors()) {
            Tensor gr = p.grad();
            if (gr != null && gr.defined()) gr.zero_();
        }
    }

    /** The state as named tensors ("m.<name>", "v.<name>") and the step. */
    public Map<String, Tensor> state() {
        Map<String, Tensor> s = new LinkedHashMap<>();
        m.asMap().forEach((k, t) -> s.put("m." + k, t));
        v.asMap().forEach((k, t) -> s.put("v." + k, t));
        return s;
    }

    public void loadState(Map<String, Tensor> state, long step) {
        Map<String, Tensor> mm = new LinkedHashMap<>(), vv = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : state.entrySet()) {
            if (e.getKey().startsWith("m.")) mm.put(e.getKey().substring(2), e.getValue());
            else if (e.getKey().startsWith("v.")) vv.put(e.getKey().substring(2), e.getValue());
            else throw new IllegalArgumentException("optimizer state: unexpected tensor '" + e.getKey() + "'");
        }
        m.load(mm, "optimizer state (m)");
        v.load(vv, "optimizer state (v)");
        this.step = step;
    }
}
