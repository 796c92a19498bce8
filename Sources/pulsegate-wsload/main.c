// pulsegate-wsload: the live benchmark's load client, in C on epoll, so that the
// client costs little beside the server it measures (two cores are shared).
//
// Opens N WebSocket connections to 127.0.0.1:PORT PATH (offering permessage-deflate
// with --deflate), answers pings, and counts the samples frames each connection
// receives by seq, with the delay from each frame's server_ts to its arrival.
// Measured window: from the newest seq seen when it opens to the newest seen when it
// closes (every client is judged on the same frames), then a settle second. With
// --server-pid it reads the server's CPU time over the window and its RSS.
//
//   pulsegate-wsload --port P [--path /ws/metrics] --connections N [--duration S]
//                    [--warmup S] [--deflate] [--idle] [--server-pid PID] [--ramp K]
//
// With --idle it only connects, prints `connected=N`, and holds the connections open
// (answering pings) until its standard input ends, for the caller to measure the server.
//
// Prints `key=value` pairs: connected, published, delivered, expected, seconds, closed,
// latency_p50_ms, latency_p99_ms, latency_max_ms, wire_bytes (in the window), server_cpu_s,
// server_rss_kb. Exits non-zero when not every connection was upgraded.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

typedef struct {
    int fd;
    int upgraded;      // 101 received
    int closed;
    unsigned char *buf; // bytes not yet parsed
    size_t len, cap;
    long recorded;     // frames within the window
} conn_t;

static conn_t *conns;
static int nconns;
static int deflate_on;
static long long newest_seq;
static long long window_from = -1, window_to = -1; // inclusive; -1: not recording
static double *latencies;
static size_t nlat, caplat;
static long long wire_bytes;
static z_stream inflater;
static unsigned char *scratch;
static size_t scratch_cap = 1 << 22;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what) {
    perror(what);
    exit(2);
}

static void send_all(int fd, const unsigned char *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

// A masked client frame (RFC 6455 §5.3): pongs, and the close at the end.
static void send_frame(int fd, unsigned char opcode, const unsigned char *payload, size_t n) {
    unsigned char frame[2 + 4 + 125];
    if (n > 125) n = 125;
    frame[0] = 0x80 | opcode;
    frame[1] = 0x80 | (unsigned char)n;
    unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
    memcpy(frame + 2, mask, 4);
    for (size_t i = 0; i < n; i++) frame[6 + i] = payload[i] ^ mask[i & 3];
    send_all(fd, frame, 6 + n);
}

// `{"type":"samples","seq":N,"server_ts":T,...` -> seq and server_ts; 0 for other frames.
static int samples_header(const unsigned char *p, size_t n, long long *seq, double *server_ts) {
    static const char prefix[] = "{\"type\":\"samples\",\"seq\":";
    size_t k = sizeof(prefix) - 1;
    if (n < k + 16 || memcmp(p, prefix, k) != 0) return 0;
    long long s = 0;
    while (k < n && p[k] >= '0' && p[k] <= '9') s = s * 10 + (p[k++] - '0');
    static const char key[] = ",\"server_ts\":";
    size_t kk = sizeof(key) - 1;
    if (k + kk >= n || memcmp(p + k, key, kk) != 0) return 0;
    k += kk;
    char number[40];
    size_t m = 0;
    while (k < n && m < sizeof(number) - 1 && p[k] != ',') number[m++] = (char)p[k++];
    number[m] = 0;
    *seq = s;
    *server_ts = strtod(number, NULL);
    return 1;
}

static void record(conn_t *c, const unsigned char *payload, size_t n, int compressed) {
    const unsigned char *text = payload;
    size_t length = n;
    if (compressed) {
        // Each message on its own (the server takes no context over): a fresh stream.
        inflateReset(&inflater);
        unsigned char tail[4] = {0, 0, 0xff, 0xff};
        inflater.next_in = (unsigned char *)payload;
        inflater.avail_in = (unsigned)n;
        inflater.next_out = scratch;
        inflater.avail_out = (unsigned)scratch_cap;
        int status = inflate(&inflater, Z_SYNC_FLUSH);
        if (status == Z_OK || status == Z_BUF_ERROR) {
            inflater.next_in = tail;
            inflater.avail_in = 4;
            inflate(&inflater, Z_SYNC_FLUSH);
        }
        text = scratch;
        length = scratch_cap - inflater.avail_out;
    }
    long long seq;
    double server_ts;
    if (!samples_header(text, length, &seq, &server_ts)) return;
    if (seq > newest_seq) newest_seq = seq;
    if (window_from >= 0 && seq >= window_from && (window_to < 0 || seq <= window_to)) {
        c->recorded++;
        if (nlat == caplat) {
            caplat = caplat ? caplat * 2 : 1 << 20;
            latencies = realloc(latencies, caplat * sizeof(double));
        }
        latencies[nlat++] = now_ms() - server_ts;
    }
}

// Parses every whole frame in c->buf.
static void parse(conn_t *c) {
    size_t at = 0;
    if (!c->upgraded) {
        unsigned char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
        if (!end) return;
        if (c->len < 12 || memcmp(c->buf + 9, "101", 3) != 0) {
            fprintf(stderr, "upgrade refused: %.*s\n", (int)(end - c->buf), c->buf);
            c->closed = 1;
            return;
        }
        c->upgraded = 1;
        at = (size_t)(end - c->buf) + 4;
    }
    while (c->len - at >= 2) {
        unsigned char *p = c->buf + at;
        size_t avail = c->len - at;
        unsigned char opcode = p[0] & 0x0f;
        int compressed = (p[0] & 0x40) != 0;
        size_t header = 2;
        uint64_t length = p[1] & 0x7f;
        if (length == 126) {
            if (avail < 4) break;
            length = ((uint64_t)p[2] << 8) | p[3];
            header = 4;
        } else if (length == 127) {
            if (avail < 10) break;
            length = 0;
            for (int i = 0; i < 8; i++) length = (length << 8) | p[2 + i];
            header = 10;
        }
        if (avail < header + length) break;
        unsigned char *payload = p + header;
        if (opcode == 0x1) record(c, payload, (size_t)length, compressed);
        else if (opcode == 0x9) send_frame(c->fd, 0xA, payload, (size_t)length);
        else if (opcode == 0x8) c->closed = 1;
        at += header + (size_t)length;
    }
    memmove(c->buf, c->buf + at, c->len - at);
    c->len -= at;
}

static void on_readable(conn_t *c) {
    for (;;) {
        if (c->cap - c->len < 65536) {
            c->cap = c->cap ? c->cap * 2 : 65536 * 2;
            c->buf = realloc(c->buf, c->cap);
        }
        ssize_t r = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
        if (r > 0) {
            c->len += (size_t)r;
            wire_bytes += r;
            parse(c);
            continue;
        }
        if (r == 0) c->closed = 1;
        return;  // EAGAIN, or an error: closed ones are counted at the end
    }
}

#define STDIN_MARK UINT32_MAX

// Serves the connections for `seconds`; returns early (1) when standard input ends, if it is watched.
static int poll_for(int ep, double seconds) {
    struct epoll_event events[512];
    double until = mono_s() + seconds;
    for (;;) {
        double left = until - mono_s();
        if (left <= 0) return 0;
        int n = epoll_wait(ep, events, 512, (int)(left * 1000) + 1);
        for (int i = 0; i < n; i++) {
            if (events[i].data.u32 == STDIN_MARK) {
                char byte;
                if (read(0, &byte, 1) <= 0) return 1;
                continue;
            }
            on_readable(&conns[events[i].data.u32]);
        }
    }
}

static double proc_cpu_seconds(int pid) {
    char path[64], text[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    char *p = strrchr(text, ')');
    if (!p) return -1;
    // Fields after the name: state is field 3; utime and stime are fields 14 and 15.
    unsigned long utime = 0, stime = 0;
    int field = 2;
    for (char *t = strtok(p + 1, " "); t; t = strtok(NULL, " ")) {
        field++;
        if (field == 14) utime = strtoul(t, NULL, 10);
        if (field == 15) { stime = strtoul(t, NULL, 10); break; }
    }
    return (double)(utime + stime) / sysconf(_SC_CLK_TCK);
}

static long proc_rss_kb(int pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/statm", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long size = 0, resident = 0;
    if (fscanf(f, "%ld %ld", &size, &resident) != 2) resident = -1;
    fclose(f);
    return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    int port = 0, server_pid = 0, idle = 0, ramp = 500;
    const char *path = "/ws/metrics";
    double duration = 10, warmup = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(a, "--port")) port = atoi(v), i++;
        else if (!strcmp(a, "--path")) path = v, i++;
        else if (!strcmp(a, "--connections")) nconns = atoi(v), i++;
        else if (!strcmp(a, "--duration")) duration = atof(v), i++;
        else if (!strcmp(a, "--warmup")) warmup = atof(v), i++;
        else if (!strcmp(a, "--server-pid")) server_pid = atoi(v), i++;
        else if (!strcmp(a, "--ramp")) ramp = atoi(v), i++;
        else if (!strcmp(a, "--deflate")) deflate_on = 1;
        else if (!strcmp(a, "--idle")) idle = 1;
        else { fprintf(stderr, "pulsegate-wsload: unknown argument %s\n", a); return 64; }
    }
    if (port <= 0 || nconns <= 0) { fprintf(stderr, "pulsegate-wsload: --port and --connections are needed\n"); return 64; }

    // Started by a process that blocks signals in its threads, a child inherits the mask:
    // SIGTERM must end this one.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGTERM, SIG_DFL);
    struct rlimit limit = {(rlim_t)nconns + 1024, (rlim_t)nconns + 1024};
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
        getrlimit(RLIMIT_NOFILE, &limit);
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
    if (inflateInit2(&inflater, -MAX_WBITS) != Z_OK) die("inflateInit2");
    scratch = malloc(scratch_cap);
    conns = calloc((size_t)nconns, sizeof(conn_t));
    int ep = epoll_create1(0);
    if (ep < 0) die("epoll_create1");

    char request[512];
    int length = snprintf(request, sizeof request,
                          "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
                          path, port, deflate_on ? "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" : "");
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < nconns; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) die("socket");
        if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) die("connect");
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fcntl(fd, F_SETFL, O_NONBLOCK);
        conns[i].fd = fd;
        send_all(fd, (unsigned char *)request, (size_t)length);
        struct epoll_event event = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &event);
        if ((i + 1) % ramp == 0 || i + 1 == nconns) {
            // Each ramp upgraded before the next is opened.
            double deadline = mono_s() + 60;
            for (;;) {
                int pending = 0;
                for (int k = 0; k <= i; k++) pending += !conns[k].upgraded && !conns[k].closed;
                if (!pending || mono_s() > deadline) break;
                poll_for(ep, 0.02);
            }
        }
    }
    int upgraded = 0;
    for (int i = 0; i < nconns; i++) upgraded += conns[i].upgraded && !conns[i].closed;
    printf("connected=%d of=%d\n", upgraded, nconns);
    fflush(stdout);
    if (upgraded < nconns) return 1;

    if (idle) {
        // Held open, pings answered, until standard input ends: the caller measures meanwhile.
        struct epoll_event event = {.events = EPOLLIN, .data.u32 = STDIN_MARK};
        epoll_ctl(ep, EPOLL_CTL_ADD, 0, &event);
        while (!poll_for(ep, 3600)) {}
        return 0;
    }
    poll_for(ep, warmup);
    window_from = newest_seq + 1;
    long long wire_start = wire_bytes;
    double cpu_start = server_pid ? proc_cpu_seconds(server_pid) : 0;
    double started = mono_s();
    poll_for(ep, duration);
    double cpu_end = server_pid ? proc_cpu_seconds(server_pid) : 0;
    double elapsed = mono_s() - started;
    window_to = newest_seq;
    long long wire_window = wire_bytes - wire_start;
    poll_for(ep, 1.0);  // frames of the window still on their way

    long long published = window_to >= window_from ? window_to - window_from + 1 : 0;
    long delivered = 0;
    int closed = 0;
    for (int i = 0; i < nconns; i++) delivered += conns[i].recorded, closed += conns[i].closed;
    qsort(latencies, nlat, sizeof(double), compare);
    double p50 = nlat ? latencies[nlat / 2] : -1, p99 = nlat ? latencies[(size_t)(nlat * 0.99)] : -1, max = nlat ? latencies[nlat - 1] : -1;
    printf("published=%lld delivered=%ld expected=%lld seconds=%.3f closed=%d\n", published, delivered, published * nconns, elapsed, closed);
    printf("latency_p50_ms=%.3f latency_p99_ms=%.3f latency_max_ms=%.3f\n", p50, p99, max);
    printf("wire_bytes=%lld\n", wire_window);
    if (server_pid) printf("server_cpu_s=%.3f server_rss_kb=%ld\n", cpu_end - cpu_start, proc_rss_kb(server_pid));
    for (int i = 0; i < nconns; i++) send_frame(conns[i].fd, 0x8, (const unsigned char *)"\x03\xe8", 2);
    return 0;
}
