import java.io.BufferedReader;
import java.io.InputStreamReader;

public class Main {
    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        int n = Integer.parseInt(in.readLine().trim());
        boolean[] composite = new boolean[n + 1];
        long count = 0, sum = 0;
        for (int i = 2; i <= n; i++) {
            if (composite[i]) continue;
            count++;
            sum += i;
            for (long j = (long) i * i; j <= n; j += i) composite[(int) j] = true;
        }
        System.out.println(count + " " + sum);
    }
}
