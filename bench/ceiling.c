/*
** ceiling.c: the least a client can do to get a container's output, the
** ceiling of the daemon path for the benchmark's streamed figures (output
** with and without a tty, input).
**
**   ceiling [-w] [-t] [-i] run  IMAGE     CMD...   create, attach, start, wait, remove
**   ceiling [-w] [-t] [-i] exec CONTAINER CMD...   exec create, start (hijacked)
**
** It speaks the Engine API over the unix socket of DOCKER_HOST
** (unix:///path; default /var/run/docker.sock), HTTP/1.1 written by hand,
** one connection per request. The hijacked stream is read in 256 KiB
** reads; without -t it is demultiplexed (8-byte frame headers) and the
** payload of stream 1 is counted. Without -w nothing is written: at the
** end it prints the count in decimal and a newline. With -w the payload
** goes to stdout by plain blocking writes, as a client that writes to a
** pipe must. With -i (no tty: a tty's stdin ends with ^D, not with a
** half-close), stdin is copied to the stream by plain blocking writes
** until its EOF, the stream's write side is shut down (the remote stdin's
** EOF), and then the output is read and written as with -w (the input
** figure checks what the command printed). The container runs with
** network and log driver "none" (as every client of the benchmark). Exit status: 0, or 1 with a message on
** stderr; the remote exit code is not looked at.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define API      "/v1.41"
#define RBUF     (256 * 1024)

static const char *sock_path;

static void die(const char *what) {
    fprintf(stderr, "ceiling: %s%s%s\n", what, errno ? ": " : "", errno ? strerror(errno) : "");
    exit(1);
}

static int dial(void) {
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock_path);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        die(sock_path);
    return fd;
}

static void write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            die("write");
        p += w;
        n -= (size_t)w;
    }
}

/* Send one request; upgrade: ask for the hijacked stream. */
static int request(const char *method, const char *path, const char *body, int upgrade) {
    char head[1024];
    int fd = dial();
    size_t blen = body ? strlen(body) : 0;
    int n = snprintf(head, sizeof head,
                     "%s " API "%s HTTP/1.1\r\nHost: docker\r\nUser-Agent: ceiling\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n%s\r\n",
                     method, path, blen,
                     upgrade ? "Connection: Upgrade\r\nUpgrade: tcp\r\n" : "Connection: close\r\n");
    if (n < 0 || (size_t)n >= sizeof head)
        die("request too long");
    write_all(fd, head, (size_t)n);
    if (blen)
        write_all(fd, body, blen);
    return fd;
}

/* Read the response head into buf (cap bytes); returns the bytes read
** past it (the start of the body or stream) at *rest, count in *nrest. */
static void read_head(int fd, char *buf, size_t cap, const char **rest, size_t *nrest) {
    size_t len = 0;
    for (;;) {
        char *end;
        ssize_t r = read(fd, buf + len, cap - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            die("response head");
        len += (size_t)r;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
        if (end) {
            if (strncmp(buf + 9, "20", 2) != 0 && strncmp(buf + 9, "101", 3) != 0) {
                errno = 0;
                fprintf(stderr, "ceiling: %.*s\n", (int)(strchr(buf, '\r') - buf), buf);
                exit(1);
            }
            *rest = end + 4;
            *nrest = len - (size_t)(end + 4 - buf);
            return;
        }
        if (len + 1 >= cap)
            die("response head too long");
    }
}

/* A whole short response (Connection: close); returns the "Id" in it, or "". */
static void call(const char *method, const char *path, const char *body, char id[65]) {
    static char buf[65536];
    const char *rest, *p;
    size_t nrest, len;
    int fd = request(method, path, body, 0);
    read_head(fd, buf, sizeof buf, &rest, &nrest);
    len = (size_t)(rest - buf) + nrest;
    for (;;) {
        ssize_t r = read(fd, buf + len, sizeof buf - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    buf[len] = '\0';
    close(fd);
    id[0] = '\0';
    p = strstr(buf, "\"Id\":\"");
    if (p && sscanf(p + 6, "%64[0-9a-f]", id) != 1)
        id[0] = '\0';
}

/* The JSON array of the command's words (no escaping needed beyond \ and "). */
static void json_argv(char *out, size_t cap, char **argv, int argc) {
    size_t n = 0;
    int i;
    out[n++] = '[';
    for (i = 0; i < argc; i++) {
        const char *s = argv[i];
        if (n + 4 >= cap)
            die("command too long");
        if (i)
            out[n++] = ',';
        out[n++] = '"';
        for (; *s && n + 4 < cap; s++) {
            if (*s == '"' || *s == '\\')
                out[n++] = '\\';
            out[n++] = *s;
        }
        out[n++] = '"';
    }
    out[n++] = ']';
    out[n] = '\0';
}

/* Copy stdin to the hijacked stream, then end the stream's write side. */
static void feed(int fd) {
    static char buf[RBUF];
    for (;;) {
        ssize_t r = read(0, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            die("read stdin");
        if (r == 0)
            break;
        write_all(fd, buf, (size_t)r);
    }
    if (shutdown(fd, SHUT_WR) < 0)
        die("shutdown");
}

/* Read the hijacked stream to EOF: count (or write) stream 1's payload. */
static unsigned long long stream(int fd, const char *pre, size_t npre, int demux, int wr) {
    static char buf[RBUF];
    unsigned long long total = 0;
    unsigned char hdr[8];
    size_t hlen = 0, left = 0;     /* header bytes held; payload bytes left in the frame */
    int kind = 1;
    size_t n = npre;
    memcpy(buf, pre, npre);
    for (;;) {
        size_t off = 0;
        while (off < n) {
            size_t take;
            if (demux && left == 0) {
                hdr[hlen++] = (unsigned char)buf[off++];
                if (hlen == 8) {
                    kind = hdr[0];
                    left = (size_t)hdr[4] << 24 | (size_t)hdr[5] << 16 | (size_t)hdr[6] << 8 | hdr[7];
                    hlen = 0;
                }
                continue;
            }
            take = demux ? (left < n - off ? left : n - off) : n - off;
            if (kind == 1) {
                total += take;
                if (wr)
                    write_all(1, buf + off, take);
            }
            off += take;
            if (demux)
                left -= take;
        }
        for (;;) {
            ssize_t r = read(fd, buf, sizeof buf);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0)
                die("read");
            n = (size_t)r;
            break;
        }
        if (n == 0)
            return total;
    }
}

int main(int argc, char **argv) {
    static char body[8192], cmd[4096], path[512], head[8192];
    char id[65], none[65];
    const char *host = getenv("DOCKER_HOST"), *rest, *mode, *jin;
    int wr = 0, tty = 0, in = 0, fd, i = 1;
    size_t nrest;
    unsigned long long total;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-w") == 0)
            wr = 1;
        else if (strcmp(argv[i], "-t") == 0)
            tty = 1;
        else if (strcmp(argv[i], "-i") == 0)
            in = wr = 1;
    }
    if (argc - i < 3 || (strcmp(argv[i], "run") && strcmp(argv[i], "exec"))) {
        fprintf(stderr, "usage: ceiling [-w] [-t] [-i] run|exec IMAGE|CONTAINER CMD...\n");
        return 2;
    }
    sock_path = host && strncmp(host, "unix://", 7) == 0 ? host + 7 : "/var/run/docker.sock";
    mode = argv[i];
    jin = in ? "true" : "false";
    json_argv(cmd, sizeof cmd, argv + i + 2, argc - i - 2);
    if (strcmp(mode, "exec") == 0) {
        snprintf(body, sizeof body, "{\"AttachStdin\":%s,\"AttachStdout\":true,\"AttachStderr\":true,"
                 "\"Tty\":%s,\"Cmd\":%s}", jin, tty ? "true" : "false", cmd);
        snprintf(path, sizeof path, "/containers/%s/exec", argv[i + 1]);
        call("POST", path, body, id);
        if (!id[0])
            die("exec create: no Id");
        snprintf(path, sizeof path, "/exec/%s/start", id);
        snprintf(body, sizeof body, "{\"Detach\":false,\"Tty\":%s}", tty ? "true" : "false");
        fd = request("POST", path, body, 1);
        read_head(fd, head, sizeof head, &rest, &nrest);
        if (in)
            feed(fd);
        total = stream(fd, rest, nrest, !tty, wr);
    } else {
        snprintf(body, sizeof body, "{\"Image\":\"%s\",\"Cmd\":%s,\"Tty\":%s,\"AttachStdout\":true,"
                 "\"AttachStderr\":true,\"AttachStdin\":%s,\"OpenStdin\":%s,\"StdinOnce\":%s,"
                 "\"HostConfig\":{\"NetworkMode\":\"none\","
                 "\"LogConfig\":{\"Type\":\"none\",\"Config\":{}}}}", argv[i + 1], cmd,
                 tty ? "true" : "false", jin, jin, jin);
        call("POST", "/containers/create", body, id);
        if (!id[0])
            die("create: no Id");
        snprintf(path, sizeof path, "/containers/%s/attach?stream=1&stdout=1&stderr=1%s", id,
                 in ? "&stdin=1" : "");
        fd = request("POST", path, NULL, 1);
        read_head(fd, head, sizeof head, &rest, &nrest);
        snprintf(path, sizeof path, "/containers/%s/start", id);
        call("POST", path, NULL, none);
        if (in)
            feed(fd);
        total = stream(fd, rest, nrest, !tty, wr);
        snprintf(path, sizeof path, "/containers/%s/wait", id);
        call("POST", path, NULL, none);
        snprintf(path, sizeof path, "/containers/%s?force=1", id);
        call("DELETE", path, NULL, none);
    }
    close(fd);
    if (!wr)
        printf("%llu\n", total);
    return 0;
}
