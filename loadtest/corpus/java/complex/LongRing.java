/** Ring of longs. */
public final class LongRing implements Ring<Long> {
    public Long zero() { return 0L; }
    public Long add(Long a, Long b) { return a + b; }
    public Long mul(Long a, Long b) { return a * b; }
}
