/*
 * latprobe: the latency and footprint probe of the benchmarks.  It speaks
 * each bus's own protocol directly, so that every system is measured the
 * same way and no CLI start-up or output formatting is in the figure.
 *
 *	latprobe lat PROTO ADDR RATE SECS
 *		A child subscribes to "bench"; once its subscription is
 *		confirmed the parent publishes RATE events/s for SECS s at a
 *		fixed schedule, each carrying CLOCK_MONOTONIC just before its
 *		write().  The child notes the clock as each read() returns and
 *		prints "RECEIVED EXPECTED P50 P99 P99.9 MAX" in microseconds.
 *	latprobe hold PROTO ADDR N PID
 *		Opens N subscriber connections one after another, each fully
 *		handshaken and its subscription acknowledged, then prints the
 *		VmRSS of process PID in kB and exits (closing them all).
 *	latprobe idle PROTO ADDR N 1
 *		Opens N idle subscribers, each to its own name that nothing
 *		publishes (evbus idle.<i>.#, MQTT idle/<i>, redis idle<i>, NATS
 *		idle.<i>), prints "ready" and keeps them until its standard
 *		input ends: the benchmarks' subscribers that cost without
 *		matching.
 *
 * PROTO and ADDR:
 *	evbus	unix socket path	HELLO 2, SUB {"patterns":["bench.lat"]}, PUB
 *	mqtt	unix socket path	MQTT 3.1.1 CONNECT, SUBSCRIBE "bench" QoS 0,
 *					PUBLISH QoS 0
 *	redis	unix socket path	RESP SUBSCRIBE / PUBLISH "bench"
 *	nats	HOST:PORT (TCP)		CONNECT, SUB/PUB "bench" (PING/PONG to
 *					confirm the subscription)
 *	dbus	unix socket path	AUTH EXTERNAL, Hello, AddMatch for the
 *					signal bench.Lat.Fire; signals carry a string
 *
 * The payload of every protocol is the same ~170-byte JSON event
 * {"name":"bench.lat","payload":"@T=<19 digits>@ ..."}; the subscriber finds
 * the stamps by scanning its byte stream for "@T=", so no protocol needs a
 * full parser here.  Exit: 0 ok; 1 events lost or a peer misbehaved; 64 usage.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TOPIC		"bench"
#define EVNAME		"bench.lat"
#define PAYLOAD_LEN	169
#define STAMP_LEN	19
#define TIMEOUT_MS	10000

enum proto { P_EVBUS, P_MQTT, P_REDIS, P_NATS, P_DBUS };

struct rbuf {
	char	b[16384];
	size_t	n;
};

static enum proto	 proto;
static const char	*addr;

static int64_t	now_ns(void);
static void	die(const char *, ...) __attribute__((noreturn, format(printf, 1, 2)));
static int	dial(void);
static void	writeall(int, const void *, size_t);
static void	fill(int, struct rbuf *);
static void	expect(int, struct rbuf *, const char *);
static size_t	mqtt_remlen(unsigned char *, size_t);
static size_t	dbus_msg(unsigned char *, int, int, uint32_t, const char *,
		    const char *, const char *, const char *, const char *);
static void	dbus_replies(int, struct rbuf *, int);
static int	client_open(int, int);
static size_t	pub_frame(char *, size_t, const char *);
static int	cmp64(const void *, const void *);
static int	lat(long, long);
static int	hold(long, long);
static int	idle(long);

static void
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "latprobe: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Connect to ADDR: TCP host:port for NATS, else a unix socket path. */
static int
dial(void)
{
	int fd, one = 1;

	if (proto == P_NATS) {
		struct sockaddr_in sin = { .sin_family = AF_INET };
		char host[64];
		const char *colon = strrchr(addr, ':');

		if (colon == NULL || (size_t)(colon - addr) >= sizeof(host))
			die("%s: want HOST:PORT", addr);
		memcpy(host, addr, colon - addr);
		host[colon - addr] = '\0';
		sin.sin_port = htons(atoi(colon + 1));
		if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
			die("%s: bad address", host);
		if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
			die("socket: %s", strerror(errno));
		if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
			die("connect %s: %s", addr, strerror(errno));
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	} else {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };

		if (strlen(addr) >= sizeof(sun.sun_path))
			die("%s: path too long", addr);
		strcpy(sun.sun_path, addr);
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
			die("socket: %s", strerror(errno));
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
			die("connect %s: %s", addr, strerror(errno));
	}
	return fd;
}

static void
writeall(int fd, const void *p, size_t len)
{
	const char	*c = p;
	ssize_t		 n;

	while (len > 0) {
		if ((n = send(fd, c, len, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			die("write: %s", strerror(errno));
		}
		c += n;
		len -= n;
	}
}

/* Read more bytes into rb, waiting at most TIMEOUT_MS; EOF is fatal. */
static void
fill(int fd, struct rbuf *rb)
{
	struct pollfd	pfd = { .fd = fd, .events = POLLIN };
	ssize_t		n;

	if (rb->n >= sizeof(rb->b) - 1)
		die("handshake reply too long");
	if (poll(&pfd, 1, TIMEOUT_MS) == 0)
		die("no reply within %d ms", TIMEOUT_MS);
	if ((n = read(fd, rb->b + rb->n, sizeof(rb->b) - 1 - rb->n)) <= 0)
		die("connection closed during handshake%s%s",
		    n == -1 ? ": " : "", n == -1 ? strerror(errno) : "");
	rb->n += n;
	rb->b[rb->n] = '\0';
}

/*
 * Read until the text needle has arrived, then drop everything up to and
 * including it.  A reply holding "ERR" first is fatal (evbus, NATS, redis).
 */
static void
expect(int fd, struct rbuf *rb, const char *needle)
{
	char *p;

	for (;;) {
		if ((p = memmem(rb->b, rb->n, needle, strlen(needle))) != NULL)
			break;
		if (memmem(rb->b, rb->n, "ERR", 3) != NULL &&
		    memchr(rb->b, '\n', rb->n) != NULL)
			die("error reply: %.*s", (int)rb->n, rb->b);
		fill(fd, rb);
	}
	p += strlen(needle);
	rb->n -= p - rb->b;
	memmove(rb->b, p, rb->n);
}

/* Encode an MQTT remaining length; returns the bytes used (at most 4). */
static size_t
mqtt_remlen(unsigned char *p, size_t len)
{
	size_t i = 0;

	do {
		p[i] = len % 128;
		len /= 128;
		if (len > 0)
			p[i] |= 0x80;
		i++;
	} while (len > 0);
	return i;
}

/* D-Bus marshalling, little endian, just what Hello/AddMatch/signals need. */
struct dbuf {
	unsigned char	*b;
	size_t		 n;
};

static void
d_pad(struct dbuf *d, size_t a)
{
	while (d->n % a)
		d->b[d->n++] = 0;
}

static void
d_u32(struct dbuf *d, uint32_t v)
{
	d_pad(d, 4);
	for (int i = 0; i < 4; i++)
		d->b[d->n++] = v >> (8 * i);
}

static void
d_str(struct dbuf *d, const char *s, int sig)
{
	size_t len = strlen(s);

	if (sig)
		d->b[d->n++] = len;
	else
		d_u32(d, len);
	memcpy(d->b + d->n, s, len + 1);
	d->n += len + 1;
}

static void
d_field(struct dbuf *d, int code, char type, const char *val)
{
	char sig[2] = { type, '\0' };

	if (val == NULL)
		return;
	d_pad(d, 8);
	d->b[d->n++] = code;
	d_str(d, sig, 1);
	d_str(d, val, type == 'g');
}

/*
 * Build a D-Bus message of the given type (1 method call, 4 signal) into out
 * and return its length.  body, if not NULL, is one string argument.
 */
static size_t
dbus_msg(unsigned char *out, int type, int flags, uint32_t serial,
    const char *path, const char *iface, const char *member, const char *dest,
    const char *body)
{
	struct dbuf	d = { out, 0 };
	size_t		fstart, bstart;

	d.b[d.n++] = 'l';
	d.b[d.n++] = type;
	d.b[d.n++] = flags;
	d.b[d.n++] = 1;
	d_u32(&d, 0);		/* body length, below */
	d_u32(&d, serial);
	d_u32(&d, 0);		/* header fields length, below */
	fstart = d.n;
	d_field(&d, 1, 'o', path);
	d_field(&d, 2, 's', iface);
	d_field(&d, 3, 's', member);
	d_field(&d, 6, 's', dest);
	d_field(&d, 8, 'g', body != NULL ? "s" : NULL);
	{
		struct dbuf h = { out + 12, 0 };
		d_u32(&h, d.n - fstart);
	}
	d_pad(&d, 8);
	bstart = d.n;
	if (body != NULL)
		d_str(&d, body, 0);
	{
		struct dbuf h = { out + 4, 0 };
		d_u32(&h, d.n - bstart);
	}
	return d.n;
}

/* Read D-Bus messages until want method returns have come; errors are fatal. */
static void
dbus_replies(int fd, struct rbuf *rb, int want)
{
	while (want > 0) {
		uint32_t blen, flen;
		size_t	 total;

		while (rb->n < 16)
			fill(fd, rb);
		memcpy(&blen, rb->b + 4, 4);
		memcpy(&flen, rb->b + 12, 4);
		total = 16 + ((flen + 7) & ~7u) + blen;
		if (total >= sizeof(rb->b))
			die("dbus: reply too long");
		while (rb->n < total)
			fill(fd, rb);
		if (rb->b[1] == 3)
			die("dbus: error reply");
		if (rb->b[1] == 2)
			want--;
		rb->n -= total;
		memmove(rb->b, rb->b + total, rb->n);
	}
}

/*
 * Connect and handshake; when sub, also subscribe to the bench topic and
 * wait for the acknowledgement.  Returns the connected fd; failures exit.
 */
static int	idle_topics;	/* latprobe idle: each its own topic */

static int
client_open(int sub, int ix)
{
	static const char evsub[] = "{\"patterns\":[\"" EVNAME "\"]}";
	char		  topic[64], esub[96];
	unsigned char	  pkt[1024];
	struct rbuf	  rb = { .n = 0 };
	char		  line[256];
	size_t		  n, k;
	int		  fd = dial();

	if (!idle_topics)
		snprintf(topic, sizeof(topic), "%s", TOPIC);
	else if (proto == P_MQTT)
		snprintf(topic, sizeof(topic), "idle/%d", ix);
	else if (proto == P_REDIS)
		snprintf(topic, sizeof(topic), "idle%d", ix);
	else
		snprintf(topic, sizeof(topic), "idle.%d", ix);
	snprintf(esub, sizeof(esub), "{\"patterns\":[\"%s%s\"]}",
	    idle_topics ? topic : EVNAME, idle_topics ? ".#" : "");
	switch (proto) {
	case P_EVBUS:
		n = snprintf(line, sizeof(line), "HELLO 2 latprobe\n");
		writeall(fd, line, n);
		expect(fd, &rb, "\n");
		if (sub) {
			(void)evsub;
			n = snprintf(line, sizeof(line), "SUB %zu\n%s\n",
			    strlen(esub), esub);
			writeall(fd, line, n);
			expect(fd, &rb, "OK ");
			expect(fd, &rb, "\n");
		}
		break;
	case P_MQTT: {
		char	id[64];
		size_t	idlen = snprintf(id, sizeof(id), "lp%d-%d-%d",
			    (int)getpid(), sub, ix);
		unsigned char v[128];
		size_t	vn = 0;

		memcpy(v, "\0\4MQTT\4\2\0\0", 10);	/* clean, no keepalive */
		vn = 10;
		v[vn++] = idlen >> 8;
		v[vn++] = idlen & 0xff;
		memcpy(v + vn, id, idlen);
		vn += idlen;
		pkt[0] = 0x10;
		k = 1 + mqtt_remlen(pkt + 1, vn);
		memcpy(pkt + k, v, vn);
		writeall(fd, pkt, k + vn);
		while (rb.n < 4)
			fill(fd, &rb);
		if ((unsigned char)rb.b[0] != 0x20 || rb.b[3] != 0)
			die("mqtt: CONNACK refused (code %d)", rb.b[3]);
		rb.n -= 4;
		memmove(rb.b, rb.b + 4, rb.n);
		if (sub) {
			unsigned char s[80];
			size_t tl = strlen(topic);

			s[0] = 0x82;
			s[1] = (unsigned char)(5 + tl);
			s[2] = 0;
			s[3] = 1;
			s[4] = 0;
			s[5] = (unsigned char)tl;
			memcpy(s + 6, topic, tl);
			s[6 + tl] = 0;
			writeall(fd, s, 7 + tl);
			while (rb.n < 5)
				fill(fd, &rb);
			if ((unsigned char)rb.b[0] != 0x90 ||
			    (unsigned char)rb.b[4] == 0x80)
				die("mqtt: SUBSCRIBE refused");
		}
		break;
	}
	case P_REDIS:
		if (sub) {
			n = snprintf(line, sizeof(line), "*2\r\n$9\r\nSUBSCRIBE"
			    "\r\n$%zu\r\n%s\r\n", strlen(topic), topic);
			writeall(fd, line, n);
			expect(fd, &rb, ":1\r\n");
		}
		break;
	case P_NATS:
		expect(fd, &rb, "\r\n");		/* INFO */
		n = snprintf(line, sizeof(line), "CONNECT {\"verbose\":false,"
		    "\"pedantic\":false}\r\n%s%s%sPING\r\n",
		    sub ? "SUB " : "", sub ? topic : "", sub ? " 1\r\n" : "");
		writeall(fd, line, n);
		expect(fd, &rb, "PONG\r\n");
		break;
	case P_DBUS: {
		char	uid[16], hex[40];
		size_t	off;

		snprintf(uid, sizeof(uid), "%u", (unsigned)getuid());
		for (k = 0; uid[k] != '\0'; k++)
			snprintf(hex + 2 * k, 3, "%02x", (unsigned char)uid[k]);
		n = snprintf(line, sizeof(line), "%cAUTH EXTERNAL %s\r\n", 0,
		    hex);
		writeall(fd, line, n);
		expect(fd, &rb, "\r\n");
		writeall(fd, "BEGIN\r\n", 7);
		off = dbus_msg(pkt, 1, 0, 1, "/org/freedesktop/DBus",
		    "org.freedesktop.DBus", "Hello", "org.freedesktop.DBus",
		    NULL);
		if (sub)
			off += dbus_msg(pkt + off, 1, 0, 2,
			    "/org/freedesktop/DBus", "org.freedesktop.DBus",
			    "AddMatch", "org.freedesktop.DBus",
			    "type='signal',interface='bench.Lat'");
		writeall(fd, pkt, off);
		dbus_replies(fd, &rb, sub ? 2 : 1);
		break;
	}
	}
	return fd;
}

/*
 * Build the frame that publishes the bench event into buf; returns its
 * length.  The stamp "@T=0...0@" is in it once; the caller finds it.
 */
static size_t
pub_frame(char *buf, size_t cap, const char *payload)
{
	size_t	plen = strlen(payload), n = 0, k;

	switch (proto) {
	case P_EVBUS:
		n = snprintf(buf, cap, "PUB %zu\n%s\n", plen, payload);
		break;
	case P_MQTT: {
		size_t rem = 2 + strlen(TOPIC) + plen;

		buf[0] = 0x30;
		k = 1 + mqtt_remlen((unsigned char *)buf + 1, rem);
		buf[k++] = 0;
		buf[k++] = strlen(TOPIC);
		memcpy(buf + k, TOPIC, strlen(TOPIC));
		k += strlen(TOPIC);
		memcpy(buf + k, payload, plen);
		n = k + plen;
		break;
	}
	case P_REDIS:
		n = snprintf(buf, cap, "*3\r\n$7\r\nPUBLISH\r\n$%zu\r\n%s\r\n"
		    "$%zu\r\n%s\r\n", strlen(TOPIC), TOPIC, plen, payload);
		break;
	case P_NATS:
		n = snprintf(buf, cap, "PUB %s %zu\r\n%s\r\n", TOPIC, plen,
		    payload);
		break;
	case P_DBUS:
		n = dbus_msg((unsigned char *)buf, 4, 1, 7, "/bench",
		    "bench.Lat", "Fire", NULL, payload);
		break;
	}
	return n;
}

static int
cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* The nearest-rank percentile q (0..1) of the sorted v[0..n), in µs. */
static double
pct(const int64_t *v, size_t n, double q)
{
	size_t i;

	if (n == 0)
		return -1;
	i = (size_t)(q * n + 0.999999);
	if (i == 0)
		i = 1;
	if (i > n)
		i = n;
	return v[i - 1] / 1000.0;
}

static int
lat(long rate, long secs)
{
	long		 total = rate * secs, got = 0;
	int		 ready[2], sfd, pfd;
	pid_t		 pid;
	char		 payload[PAYLOAD_LEN + 1], frame[1024], junk[65536];
	char		*stamp;
	size_t		 flen, k;
	int64_t		 start, period = 1000000000 / rate;
	int		 status, warned = 0;

	/* The payload: the same JSON shape and size as the bulk events. */
	k = snprintf(payload, sizeof(payload),
	    "{\"name\":\"" EVNAME "\",\"payload\":\"@T=%0*d@ ", STAMP_LEN, 0);
	while (k < PAYLOAD_LEN - 2)
		payload[k++] = 'x';
	memcpy(payload + k, "\"}", 3);

	if (pipe(ready) == -1)
		die("pipe: %s", strerror(errno));
	if ((pid = fork()) == -1)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		int64_t	*lv = calloc(total, sizeof(*lv));
		static char buf[1 << 16];
		char	 carry[64];
		size_t	 cn = 0;

		if (lv == NULL)
			die("out of memory");
		close(ready[0]);
		sfd = client_open(1, 0);
		if (write(ready[1], "r", 1) != 1)
			die("write: %s", strerror(errno));
		close(ready[1]);
		while (got < total) {
			struct pollfd p = { .fd = sfd, .events = POLLIN };
			ssize_t n;
			int64_t t;
			char *s, *end;

			if (poll(&p, 1, 5000) == 0)
				break;
			if ((n = read(sfd, buf + cn, sizeof(buf) - cn)) <= 0)
				break;
			t = now_ns();
			memcpy(buf, carry, cn);
			end = buf + cn + n;
			s = buf;
			for (;;) {
				char *m = memmem(s, end - s, "@T=", 3);

				if (m == NULL) {
					s = end - 2 > s ? end - 2 : s;
					break;
				}
				if (end - m < 3 + STAMP_LEN) {
					s = m;
					break;
				}
				if (got < total)
					lv[got++] = t - strtoll(m + 3, NULL, 10);
				s = m + 3 + STAMP_LEN;
			}
			cn = end - s;
			memcpy(carry, s, cn);
		}
		qsort(lv, got, sizeof(*lv), cmp64);
		printf("%ld %ld %.1f %.1f %.1f %.1f\n", got, total,
		    pct(lv, got, 0.50), pct(lv, got, 0.99),
		    pct(lv, got, 0.999), pct(lv, got, 1.0));
		fflush(stdout);
		_exit(got == total ? 0 : 1);
	}
	close(ready[1]);
	if (read(ready[0], junk, 1) != 1) {
		waitpid(pid, NULL, 0);
		die("subscriber failed");
	}
	close(ready[0]);
	pfd = client_open(0, 0);
	flen = pub_frame(frame, sizeof(frame), payload);
	stamp = memmem(frame, flen, "@T=", 3);
	if (stamp == NULL)
		die("no stamp in frame");
	stamp += 3;

	start = now_ns() + 1000000;
	for (long i = 0; i < total; i++) {
		int64_t		target = start + i * period;
		struct timespec	ts = { target / 1000000000,
				    target % 1000000000 };
		char		num[STAMP_LEN + 2];
		ssize_t		n;

		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts,
		    NULL) == EINTR)
			;
		snprintf(num, sizeof(num), "%0*lld", STAMP_LEN,
		    (long long)now_ns());
		memcpy(stamp, num, STAMP_LEN);
		writeall(pfd, frame, flen);
		/* Drain replies (ACK, :N) so the server never blocks on us. */
		while ((n = recv(pfd, junk, sizeof(junk), MSG_DONTWAIT)) > 0)
			if (!warned && memmem(junk, n, "ERR", 3) != NULL) {
				fprintf(stderr, "latprobe: publisher got: "
				    "%.*s\n", (int)(n > 200 ? 200 : n), junk);
				warned = 1;
			}
	}
	if (waitpid(pid, &status, 0) == -1)
		die("waitpid: %s", strerror(errno));
	close(pfd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

static int
hold(long n, long pid)
{
	struct rlimit	 rl;
	char		 path[64], line[256];
	FILE		*fp;
	long		 rss = -1;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (long i = 0; i < n; i++)
		client_open(1, (int)i);
	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if ((fp = fopen(path, "r")) == NULL)
		die("%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "VmRSS: %ld", &rss) == 1)
			break;
	fclose(fp);
	if (rss < 0)
		die("%s: no VmRSS", path);
	printf("%ld\n", rss);
	return 0;
}

/* N idle subscribers, kept until standard input ends. */
static int
idle(long n)
{
	struct rlimit	 rl;
	char		 c;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	idle_topics = 1;
	for (long i = 0; i < n; i++)
		client_open(1, (int)i);
	printf("ready\n");
	while (read(0, &c, 1) > 0)
		;
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: latprobe lat PROTO ADDR RATE SECS\n"
	    "       latprobe hold PROTO ADDR N PID\n"
	    "       latprobe idle PROTO ADDR N 1\n"
	    "PROTO: evbus mqtt redis nats dbus\n");
	exit(64);
}

int
main(int argc, char *argv[])
{
	static const char *names[] = { "evbus", "mqtt", "redis", "nats",
	    "dbus" };
	long a, b;
	int i;

	if (argc != 6)
		usage();
	for (i = 0; i < 5; i++)
		if (strcmp(argv[2], names[i]) == 0)
			break;
	if (i == 5)
		usage();
	proto = i;
	addr = argv[3];
	a = atol(argv[4]);
	b = atol(argv[5]);
	if (a <= 0 || b <= 0)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(argv[1], "lat") == 0)
		return lat(a, b);
	if (strcmp(argv[1], "hold") == 0)
		return hold(a, b);
	if (strcmp(argv[1], "idle") == 0)
		return idle(a);
	usage();
}
