package dev.editr1.kernels;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/** Small libtorch conveniences used across editr1: creation, copies to and from Java arrays. */
public final class Tensors {
    private Tensors() {}

    public static TensorOptions options(ScalarType dtype, Device device) {
        return new TensorOptions(dtype).device(new DeviceOptional(device));
    }

    public static Device cpu() {
        return new Device(torch.DeviceType.CPU);
    }

    /** An uninitialized tensor. */
    public static Tensor empty(ScalarType dtype, Device device, long... shape) {
        return torch.empty(shape, options(dtype, device), new MemoryFormatOptional());
    }

    public static Tensor zeros(ScalarType dtype, Device device, long... shape) {
        return torch.zeros(shape, options(dtype, device));
    }

    /**
     * The tensors of a vector libtorch returned ({@code chunk}, {@code unbind}, {@code split}),
     * each as a handle of its own. {@code TensorVector.get(i)} returns a handle into the vector's
     * storage (JavaCPP {@code @ByRef}) that owns nothing: once the vector is unreachable the GC
     * frees it, and such a handle, still in use, points at freed memory (seen as a SIGSEGV in
     * {@code TensorBase.dim} when {@code AutoencoderKLQwenImage.encode}'s result outlived its
     * chunk's vector). Each tensor here is its own {@code at::Tensor} sharing the storage, as
     * libtorch's other results are: valid while reachable, released by its PointerScope or the GC.
     */
    public static Tensor[] owned(TensorVector v) {
        Tensor[] out = new Tensor[(int) v.size()];
        for (int i = 0; i < out.length; i++) out[i] = new Tensor(v.get(i));
        java.lang.ref.Reference.reachabilityFence(v);
        return out;
    }

    /** A CPU f32 tensor holding a copy of data, with the given shape (product = data.length). */
    public static Tensor fromFloats(float[] data, long... shape) {
        long n = 1;
        for (long s : shape) n *= s;
        if (n != data.length)
            throw new IllegalArgumentException("shape product " + n + " != data length " + data.length);
        Tensor t = empty(ScalarType.Float, cpu(), shape);
        if (n > 0) new FloatPointer(t.data_ptr()).put(data);
        return t;
    }

    /** A copy of any tensor's values as floats (converted to f32 on the CPU, row-major). */
    public static float[] toFloats(Tensor t) {
        Tensor c = t.detach().to(cpu(), ScalarType.Float).contiguous();
        long n = c.numel();
        if (n > Integer.MAX_VALUE) throw new IllegalArgumentException("tensor too large for a Java array: " + n);
        float[] out = new float[(int) n];
        new FloatPointer(c.data_ptr()).get(out);
        return out;
    }

    /** An integer tensor's values as longs. */
    public static long[] toLongs(Tensor t) {
        Tensor c = t.detach().to(cpu(), ScalarType.Long).contiguous();
        long[] out = new long[(int) c.numel()];
        new org.bytedeco.javacpp.LongPointer(c.data_ptr()).get(out);
        return out;
    }

    /** The values as doubles (through f32). */
    public static double[] toDoubles(Tensor t) {
        float[] f = toFloats(t);
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }

    /** Rounds floats through a dtype (what storing them in that dtype keeps). */
    public static float[] roundTrip(float[] data, DType dtype) {
        if (dtype == DType.F32) return data.clone();
        return toFloats(fromFloats(data, data.length).to(dtype.scalarType));
    }

    /** Shape as a Java array. */
    public static long[] shape(Tensor t) {
        long[] s = new long[(int) t.dim()];
        for (int i = 0; i < s.length; i++) s[i] = t.size(i);
        return s;
    }

    /** The scalar value of a one-element tensor as a double. */
    public static double item(Tensor t) {
        return t.to(cpu(), ScalarType.Double).item_double();
    }

    /** Whether a tensor lives on a device (CUDA: the same index). */
    public static boolean on(Tensor t, Device device) {
        if (device.is_cuda()) return t.is_cuda() && t.device().index() == device.index();
        return t.is_cpu();
    }

    /** A device as editr1 names it: cpu, cuda:N. */
    public static String name(Device device) {
        return device.is_cuda() ? "cuda:" + Math.max(0, device.index()) : device.is_cpu() ? "cpu" : device.str().getString();
    }

    /** A tensor's device as editr1 names it. */
    public static String deviceName(Tensor t) {
        return name(t.device());
    }

    /** An int64 tensor [n] of the values, on a device. */
    public static Tensor fromLongs(long[] data, Device device) {
        Tensor t = empty(ScalarType.Long, cpu(), data.length);
        if (data.length > 0) new org.bytedeco.javacpp.LongPointer(t.data_ptr()).put(data);
        return device.is_cpu() ? t : t.to(device, ScalarType.Long);
    }

    /** An f32 tensor of the values with a shape, on a device. */
    public static Tensor fromFloats(float[] data, Device device, long... shape) {
        Tensor t = fromFloats(data, shape);
        return device.is_cpu() ? t : t.to(device, ScalarType.Float);
    }

    /** The libtorch scalar type of t, interned (plain == on ScalarType objects is unreliable). */
    public static ScalarType scalarType(Tensor t) {
        return t.scalar_type().intern();
    }
}
