// pulsegate-wsref: the live benchmark's reference, the least a WebSocket broadcaster
// can do on this machine: one epoll thread that answers any upgrade with a 101, and at
// --rate frames a second writes one samples frame (the size of Pulsegate's for
// --series series) to every client with one write() each. Nothing else is on the
// path: no store, no pipeline, no JSON encoder, no frame parsing, no pings, no
// compression. A client whose socket is full loses the frame (its partial tail is
// kept and sent first), as Pulsegate's do.
//
//   pulsegate-wsref --port P [--rate R] [--series S]
//
// Prints `listening PORT` once ready; runs until SIGTERM.
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
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define HEAD_MAX 4096

typedef struct {
    int fd;
    int upgraded;
    char *head;  // the upgrade request, until its blank line (then freed)
    size_t head_len;
    unsigned char *pending;  // the unsent tail of a frame
    size_t pending_len;
    int slot;  // its place in `upgraded`, once upgraded
} client_t;

static client_t **clients;  // by fd
static int capacity;
static client_t **upgraded;  // the ones a frame goes to, packed
static int nupgraded;

static const char response[] =
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

static void drop(int ep, client_t *c) {
    if (c->upgraded) {
        upgraded[c->slot] = upgraded[--nupgraded];
        upgraded[c->slot]->slot = c->slot;
    }
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    clients[c->fd] = NULL;
    free(c->pending);
    free(c->head);
    free(c);
}

static size_t build_frame(unsigned char *out, long long seq, int series) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double now = ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
    long long ms = (long long)now;
    char *text = (char *)out + 10;
    int n = sprintf(text, "{\"type\":\"samples\",\"seq\":%lld,\"server_ts\":%.3f,\"samples\":[", seq, now);
    for (int i = 0; i < series; i++)
        n += sprintf(text + n, "%s{\"metric\":\"synthetic_value\",\"labels\":{\"series\":\"%d\"},\"ts\":%lld,\"value\":%.6f}",
                     i ? "," : "", i, ms, (double)(seq % 1000) / 7.0 + i);
    n += sprintf(text + n, "]}");
    // The header right before the text: 2 bytes below 126, else 4.
    if (n < 126) {
        out[8] = 0x81, out[9] = (unsigned char)n;
        memmove(out, out + 8, (size_t)n + 2);
        return (size_t)n + 2;
    }
    out[6] = 0x81, out[7] = 126, out[8] = (unsigned char)(n >> 8), out[9] = (unsigned char)(n & 0xff);
    memmove(out, out + 6, (size_t)n + 4);
    return (size_t)n + 4;
}

int main(int argc, char **argv) {
    int port = 0, series = 10;
    double rate = 10;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(argv[i], "--port")) port = atoi(v), i++;
        else if (!strcmp(argv[i], "--rate")) rate = atof(v), i++;
        else if (!strcmp(argv[i], "--series")) series = atoi(v), i++;
        else { fprintf(stderr, "pulsegate-wsref: unknown argument %s\n", argv[i]); return 64; }
    }
    // Started by a process that blocks signals in its threads, a child inherits the mask:
    // SIGTERM must end this one.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGTERM, SIG_DFL);
    struct rlimit limit;
    getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    capacity = (int)limit.rlim_cur;
    clients = calloc((size_t)capacity, sizeof(client_t *));
    upgraded = calloc((size_t)capacity, sizeof(client_t *));

    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listener, (struct sockaddr *)&address, sizeof address) != 0 || listen(listener, 4096) != 0) {
        perror("listen");
        return 2;
    }
    socklen_t size = sizeof address;
    getsockname(listener, (struct sockaddr *)&address, &size);
    int ep = epoll_create1(0);
    struct epoll_event event = {.events = EPOLLIN, .data.fd = listener};
    epoll_ctl(ep, EPOLL_CTL_ADD, listener, &event);
    int timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    long long period = (long long)(1e9 / rate);
    struct itimerspec spec = {{period / 1000000000, period % 1000000000}, {period / 1000000000, period % 1000000000}};
    timerfd_settime(timer, 0, &spec, NULL);
    event.data.fd = timer;
    epoll_ctl(ep, EPOLL_CTL_ADD, timer, &event);
    printf("listening %d\n", ntohs(address.sin_port));
    fflush(stdout);

    unsigned char *frame = malloc((size_t)series * 128 + 256);
    char scratch[65536];
    long long seq = 0;
    struct epoll_event events[512];
    for (;;) {
        int n = epoll_wait(ep, events, 512, -1);
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == listener) {
                int accepted;
                while ((accepted = accept4(listener, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    if (accepted >= capacity) { close(accepted); continue; }
                    setsockopt(accepted, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    clients[accepted] = calloc(1, sizeof(client_t));
                    clients[accepted]->fd = accepted;
                    clients[accepted]->head = malloc(HEAD_MAX);
                    struct epoll_event e = {.events = EPOLLIN, .data.fd = accepted};
                    epoll_ctl(ep, EPOLL_CTL_ADD, accepted, &e);
                }
            } else if (fd == timer) {
                uint64_t ticks;
                if (read(timer, &ticks, sizeof ticks) != sizeof ticks) continue;
                size_t length = build_frame(frame, ++seq, series);
                for (int c = 0; c < nupgraded; c++) {
                    client_t *client = upgraded[c];
                    if (client->pending_len) {
                        ssize_t w = send(client->fd, client->pending, client->pending_len, MSG_NOSIGNAL);
                        if (w < 0) continue;
                        memmove(client->pending, client->pending + w, client->pending_len - (size_t)w);
                        client->pending_len -= (size_t)w;
                        if (client->pending_len) continue;  // still full: this frame is lost for it
                    }
                    ssize_t w = send(client->fd, frame, length, MSG_NOSIGNAL);
                    if (w >= 0 && (size_t)w < length) {
                        client->pending = realloc(client->pending, length - (size_t)w);
                        memcpy(client->pending, frame + w, length - (size_t)w);
                        client->pending_len = length - (size_t)w;
                    }
                }
            } else if (clients[fd]) {
                client_t *client = clients[fd];
                ssize_t r = recv(fd, scratch, sizeof scratch, 0);
                if (r <= 0) {
                    if (r == 0 || (errno != EAGAIN && errno != EINTR)) drop(ep, client);
                    continue;
                }
                if (!client->upgraded) {
                    size_t take = (size_t)r < HEAD_MAX - client->head_len ? (size_t)r : HEAD_MAX - client->head_len;
                    memcpy(client->head + client->head_len, scratch, take);
                    client->head_len += take;
                    if (memmem(client->head, client->head_len, "\r\n\r\n", 4)) {
                        send(fd, response, sizeof response - 1, MSG_NOSIGNAL);
                        client->upgraded = 1;
                        free(client->head);
                        client->head = NULL;
                        client->slot = nupgraded;
                        upgraded[nupgraded++] = client;
                    } else if (client->head_len == HEAD_MAX) {
                        drop(ep, client);
                    }
                }
                // After the upgrade, what a client sends (pongs, its close) is read and dropped.
            }
        }
    }
}
