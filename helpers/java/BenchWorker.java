// One Java benchmark measurement for helpers.bench, run with Java's source launcher:
//   java -cp <kafka jars> BenchWorker.java produce|consume BOOTSTRAP TOPIC N SIZE WARMUP_TOPIC WARMUP_N START_OFFSETS
//        TIMEOUT [@client.properties] [key=value ...]
// An @FILE argument is a client properties file (a secured broker's security settings, connection.command_config());
// BOOTSTRAP and the key=value settings go on top of it.
// The client is built and connected before the clock starts. With WARMUP_N > 0 the producer first
// sends WARMUP_N records to WARMUP_TOPIC (and the consumer first reads the partitions once), so
// the JIT compiler has done its work before the timed window. It prints "#clock-start" and
// "#clock-stop" when the clock starts and stops (the harness samples the broker's CPU there), then
// one JSON line: status, seconds, messages, startup_s, cpu_s (this JVM's CPU inside the window).
import java.lang.management.ManagementFactory;
import java.util.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class BenchWorker {
    static long cpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    static byte[] payload(int size) {
        byte[] word = "kafkatest".getBytes();
        byte[] out = new byte[size];
        for (int i = 0; i < size; i++) out[i] = word[i % word.length];
        return out;
    }

    static String json(String status, double seconds, long messages, double startup, double cpu, String error) {
        return String.format(Locale.ROOT, "{\"status\": \"%s\", \"seconds\": %.6f, \"messages\": %d, \"startup_s\": %.4f, "
                + "\"cpu_s\": %.4f, \"error\": \"%s\"}", status, seconds, messages, startup, cpu,
                error.replace("\\", "/").replace("\"", "'"));
    }

    static void produce(Properties p, String topic, long n, int size, String warmTopic, long warmN) throws Exception {
        long created = System.nanoTime();
        byte[] value = payload(size);
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
            producer.partitionsFor(topic);  // connected, metadata known
            if (warmN > 0) {
                for (long i = 0; i < warmN; i++) producer.send(new ProducerRecord<>(warmTopic, value));
                producer.flush();
                Thread.sleep(500);  // let the compiler threads finish their queue
            }
            double startup = (System.nanoTime() - created) / 1e9;
            final long[] failed = {0};
            final String[] firstError = {""};
            Callback cb = (md, e) -> { if (e != null) { failed[0]++; if (firstError[0].isEmpty()) firstError[0] = e.toString(); } };
            System.out.println("#clock-start"); System.out.flush();
            long cpu0 = cpuNanos(), t0 = System.nanoTime();
            for (long i = 0; i < n; i++) producer.send(new ProducerRecord<>(topic, value), cb);
            producer.flush();
            long t1 = System.nanoTime(), cpu1 = cpuNanos();
            System.out.println("#clock-stop"); System.out.flush();
            if (failed[0] > 0) {
                System.out.println(json("error", 0, n - failed[0], startup, 0, failed[0] + " sends failed: " + firstError[0]));
            } else {
                System.out.println(json("ok", (t1 - t0) / 1e9, n, startup, (cpu1 - cpu0) / 1e9, ""));
            }
        }
    }

    static long readAll(KafkaConsumer<byte[], byte[]> c, List<TopicPartition> tps, Map<TopicPartition, Long> starts,
                        long n, long deadline) {
        for (TopicPartition tp : tps) c.seek(tp, starts.get(tp));
        long got = 0;
        while (got < n && System.nanoTime() < deadline) got += c.poll(java.time.Duration.ofMillis(500)).count();
        return got;
    }

    static void consume(Properties p, String topic, long n, String startOffsets, boolean warm, double timeout) {
        long created = System.nanoTime();
        long deadline = created + (long) (timeout * 1e9);
        List<TopicPartition> tps = new ArrayList<>();
        Map<TopicPartition, Long> starts = new HashMap<>();
        String[] offs = startOffsets.split(",");
        for (int i = 0; i < offs.length; i++) {
            TopicPartition tp = new TopicPartition(topic, i);
            tps.add(tp);
            starts.put(tp, Long.parseLong(offs[i]));
        }
        if (warm) {  // JIT warm-up: the same records once, untimed, with a consumer of its own (so no fetch of
                     // it is still waiting at the end of the log when the timed consumer starts)
            try (KafkaConsumer<byte[], byte[]> w = new KafkaConsumer<>(p)) {
                w.assign(tps);
                readAll(w, tps, starts, n, deadline);
            }
        }
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p)) {
            c.partitionsFor(topic);  // connected, metadata known
            c.assign(tps);
            double startup = (System.nanoTime() - created) / 1e9;
            System.out.println("#clock-start"); System.out.flush();
            long cpu0 = cpuNanos(), t0 = System.nanoTime();
            long got = readAll(c, tps, starts, n, deadline);
            long t1 = System.nanoTime(), cpu1 = cpuNanos();
            System.out.println("#clock-stop"); System.out.flush();
            if (got < n) System.out.println(json("lost", 0, got, startup, 0, "read " + got + " of " + n + " messages before the deadline"));
            else System.out.println(json("ok", (t1 - t0) / 1e9, got, startup, (cpu1 - cpu0) / 1e9, ""));
        }
    }

    public static void main(String[] a) throws Exception {
        String role = a[0], bootstrap = a[1], topic = a[2];
        long n = Long.parseLong(a[3]);
        int size = Integer.parseInt(a[4]);
        String warmTopic = a[5];
        long warmN = Long.parseLong(a[6]);
        String startOffsets = a[7];
        double timeout = Double.parseDouble(a[8]);
        Properties p = new Properties();
        for (int i = 9; i < a.length; i++) {
            if (a[i].startsWith("@")) {
                try (java.io.FileInputStream in = new java.io.FileInputStream(a[i].substring(1))) {
                    p.load(in);
                }
            }
        }
        p.put("bootstrap.servers", bootstrap);
        for (int i = 9; i < a.length; i++) {
            if (a[i].startsWith("@")) continue;
            int eq = a[i].indexOf('=');
            p.put(a[i].substring(0, eq), a[i].substring(eq + 1));
        }
        try {
            if (role.equals("produce")) {
                p.put("key.serializer", ByteArraySerializer.class.getName());
                p.put("value.serializer", ByteArraySerializer.class.getName());
                produce(p, topic, n, size, warmTopic, warmN);
            } else {
                p.put("key.deserializer", ByteArrayDeserializer.class.getName());
                p.put("value.deserializer", ByteArrayDeserializer.class.getName());
                consume(p, topic, n, startOffsets, warmN > 0, timeout);
            }
        } catch (Exception e) {
            String msg = String.valueOf(e.getMessage()).split("\n")[0];
            System.out.println(json("error", 0, 0, 0, 0, e.getClass().getSimpleName() + ": " + msg));
        }
        System.exit(0);
    }
}
