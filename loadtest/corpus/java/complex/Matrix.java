import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;

/** A generic square matrix over a Ring. */
public final class Matrix<T> {
    private final int n;
    private final Ring<T> ring;
    private final List<T> cells;

    public Matrix(int n, Ring<T> ring, BiFunction<Integer, Integer, T> cell) {
        this.n = n;
        this.ring = ring;
        this.cells = new ArrayList<>(n * n);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) cells.add(cell.apply(i, j));
    }

    public T at(int i, int j) { return cells.get(i * n + j); }

    public Matrix<T> times(Matrix<T> other) {
        return new Matrix<>(n, ring, (i, j) -> {
            T s = ring.zero();
            for (int k = 0; k < n; k++) s = ring.add(s, ring.mul(at(i, k), other.at(k, j)));
            return s;
        });
    }

    public T trace() {
        T s = ring.zero();
        for (int i = 0; i < n; i++) s = ring.add(s, at(i, i));
        return s;
    }

    public T total() {
        return cells.stream().reduce(ring.zero(), ring::add);
    }
}
