import java.util.Scanner;

public class Main {
    public static void main(String[] args) {
        int n = new Scanner(System.in).nextInt();
        Matrix<Long> a = new Matrix<>(n, new LongRing(), (i, j) -> (long) ((i * j + i + j) % 7));
        Matrix<Long> cube = a.times(a).times(a);
        System.out.println("trace " + cube.trace());
        System.out.println("sum " + cube.total());
    }
}
