/** The arithmetic a Matrix needs. */
public interface Ring<T> {
    T zero();
    T add(T a, T b);
    T mul(T a, T b);
}
