// Runtime error: an uncaught ArithmeticException; the JVM exits with status 1.
public class Main {
    public static void main(String[] args) {
        System.out.println("before the error");
        int zero = args.length;
        System.out.println(1 / zero);
    }
}
