// Java wants the public class named like its file, and Kiln runs the class
// named by the entry file's stem: so here, `hello`.
public class hello {
    public static void main(String[] args) {
        System.out.println("Hello, Kiln!");
    }
}
