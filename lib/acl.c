/*
 * acl.c: access control for a shared bus (evbusd -A FILE).
 *
 * The file.  One rule a line:
 *
 *	allow|deny PERMS PATTERN WHO...
 *
 * PERMS is fire, sub, list or all, or a comma list of them ("fire,sub").
 * PATTERN is a topic pattern as everywhere in evbus (ev_pattern_check):
 * tokens separated by '.', '*' one token, '#' zero or more; a wildcard
 * first token does not reach the bus's own names (under "evbus."), which
 * only a pattern starting with "evbus" does.  WHO is one or more of
 *
 *	user NAME|UID	group NAME|GID	token SECRET	token sha256:HEX
 *	any
 *
 * A number is an id; a name is looked up (getpwnam, getgrnam) when the
 * file is read, and an unknown one is an error.  A token is a secret the
 * client presents in its HELLO (EVBUS_TOKEN, --token-file); the file may
 * hold it as it is (at least EV_ACL_TOKEN_MIN bytes) or as its SHA-256,
 * 64 hex digits after "sha256:".  Only the hash is kept in memory.
 *
 * Words are separated by blanks (space, tab, CR).  A line whose last
 * non-blank character is '\' goes on on the next line (the '\' counts as
 * a blank), comments included.  A word starting with '#' where a rule or
 * a WHO keyword may start begins a comment that runs to the end of the
 * line; elsewhere '#' is the wildcard ("allow sub # any # everyone").
 * Blank lines and comment lines are ignored.
 *
 * The decision.  A request is one permission (fire, sub or list), one
 * event name and an identity (uid, gid, the user's groups, a token or
 * none).  A rule with several WHO counts as one entry per WHO.  Among the
 * entries whose permission, WHO and PATTERN match the request, the most
 * specific decides:
 *
 *   1. by WHO: user or token (2) before group (1) before any (0);
 *   2. then by PATTERN: more literal tokens first,
 *   3. then fewer '#',
 *   4. then fewer '*';
 *   5. among equally specific entries, deny beats allow.
 *
 * No entry matches: denied.  Root and the bus's owner (the daemon's uid)
 * are allowed everything, whatever the file says.  A subscription (sub)
 * and a listing (list) are checked per event name as events are
 * delivered: a subscriber receives what it may read of what it asked for.
 *
 * The entries are sorted once, at load, in that order (then file order),
 * so a check is a walk that stops at the first entry that matches.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sha2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evbus.h"

/* What names an entry's pattern may reach (ev_acl_ent.flags). */
#define F_USER		0x01	/* some name not under "evbus." */
#define F_BUS		0x02	/* some name under "evbus." */
#define F_USER_ALL	0x04	/* every name not under "evbus." */
#define F_BUS_ALL	0x08	/* every name under "evbus." */

/* Specificity rank of each kind of WHO. */
#define RANK_ANY	0
#define RANK_GROUP	1
#define RANK_USER	2	/* and token */

#define QUOTE_MAX	48	/* bytes of a word quoted in a message */
#define IDNAME_MAX	256	/* bytes in a user or group name */
#define GROUPS_MAX	65536	/* groups of one user we accept to list */

/* A word of a rule and the line it was written on. */
struct word {
	const char	*s;
	size_t		 len;
	unsigned	 line;
};

struct parser {
	const char	  *file;
	struct ev_err	  *err;
	struct word	  *w;		/* the words of the rule being read */
	size_t		   nw, wcap;
	struct ev_acl_ent *ent;
	size_t		   nent, entcap;
	char		  *str;		/* patterns and names, never moved */
	size_t		   strused, strcap;
	size_t		   nrules;
	unsigned	   plainline;
};

/* What the checks need to know about the name asked about. */
struct nameinfo {
	const char	*s;
	size_t		 len;
	unsigned	 ntok;
	uint8_t		 kind;		/* F_USER or F_BUS */
};

static int	perr(struct parser *, unsigned, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static void	quote(char *, size_t, const char *, size_t);
static bool	word_is(const struct word *, const char *);
static int	push_word(struct parser *, const char *, size_t, unsigned);
static int	split_line(struct parser *, const char *, size_t, unsigned);
static char	*save(struct parser *, const char *, size_t);
static int	parse_perms(struct parser *, const struct word *, uint8_t *);
static void	pattern_shape(const char *, size_t, struct ev_acl_ent *,
		    uint32_t *);
static int	parse_id(struct parser *, const struct word *, bool,
		    uint32_t *, const char **);
static int	parse_token(struct parser *, const struct word *,
		    uint8_t *);
static int	add_entry(struct parser *, const struct ev_acl_ent *);
static int	parse_rule(struct parser *);
static int	parse_text(struct parser *, const char *, size_t);
static int	ent_order(const void *, const void *);
static bool	hash_equal(const uint8_t *, const uint8_t *);
static bool	who_match(const struct ev_acl_ent *,
		    const struct ev_acl_id *);
static void	name_info(struct nameinfo *, const char *, size_t);
static bool	ent_may_match(const struct ev_acl_ent *,
		    const struct nameinfo *);
static bool	always(const struct ev_acl *, const struct ev_acl_id *);
static void	scope(const struct ev_acl *, const struct ev_acl_id *,
		    unsigned, bool *, bool *);
static uint32_t	name_hash(const char *, size_t);
static void	perm_text(char *, size_t, uint8_t);
static void	hash_text(char *, const uint8_t *);

/* Set the parser's error to "FILE:LINE: message" and return -1. */
static int
perr(struct parser *p, unsigned line, const char *fmt, ...)
{
	char msg[sizeof(p->err->msg)];
	va_list ap;

	if (p->err == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return ev_err_set(p->err, EV_ERR_DATA, "%s:%u: %s", p->file, line,
	    msg);
}

/*
 * Quote a word for a message: at most QUOTE_MAX bytes, then "...".  Words
 * hold no control characters (split_line refuses them).
 */
static void
quote(char *dst, size_t dstlen, const char *s, size_t len)
{
	size_t n = len < QUOTE_MAX ? len : QUOTE_MAX;

	if (n > dstlen - 4)
		n = dstlen - 4;
	memcpy(dst, s, n);
	if (n < len)
		memcpy(dst + n, "...", 3), n += 3;
	dst[n] = '\0';
}

static bool
word_is(const struct word *w, const char *s)
{
	size_t n = strlen(s);

	return w->len == n && memcmp(w->s, s, n) == 0;
}

static int
push_word(struct parser *p, const char *s, size_t len, unsigned line)
{
	struct word *nw;
	size_t ncap;

	if (p->nw == p->wcap) {
		ncap = p->wcap ? p->wcap * 2 : 16;
		if ((nw = reallocarray(p->w, ncap, sizeof(*nw))) == NULL)
			return ev_err_sys(p->err, "%s", p->file);
		p->w = nw;
		p->wcap = ncap;
	}
	p->w[p->nw].s = s;
	p->w[p->nw].len = len;
	p->w[p->nw].line = line;
	p->nw++;
	return 0;
}

/* Add the words of s[0..len), one physical line, to the rule's words. */
static int
split_line(struct parser *p, const char *s, size_t len, unsigned line)
{
	size_t i, start = 0;
	unsigned char c;
	bool in = false;

	for (i = 0; i <= len; i++) {
		c = i < len ? (unsigned char)s[i] : ' ';
		if (c == ' ' || c == '\t' || c == '\r') {
			if (in && push_word(p, s + start, i - start, line) == -1)
				return -1;
			in = false;
			continue;
		}
		if (c == '\0')
			return perr(p, line, "a NUL byte");
		if (c < 0x20 || c == 0x7f)
			return perr(p, line, "a control character (\\x%02x)",
			    c);
		if (!in)
			start = i;
		in = true;
	}
	return 0;
}

/*
 * Copy s[0..len) and a NUL into the string space, sized at the start for
 * the whole text, so that the copies never move.
 */
static char *
save(struct parser *p, const char *s, size_t len)
{
	char *d = p->str + p->strused;

	memcpy(d, s, len);
	d[len] = '\0';
	p->strused += len + 1;
	return d;
}

static int
parse_perms(struct parser *p, const struct word *w, uint8_t *perms)
{
	char q[QUOTE_MAX + 4], q2[QUOTE_MAX + 4];
	const char *s = w->s, *end = w->s + w->len, *comma;
	struct word part;

	*perms = 0;
	while (s <= end) {
		if ((comma = memchr(s, ',', (size_t)(end - s))) == NULL)
			comma = end;
		part.s = s;
		part.len = (size_t)(comma - s);
		if (part.len == 0) {
			quote(q, sizeof(q), w->s, w->len);
			return perr(p, w->line, "'%s': an empty permission "
			    "in the list", q);
		}
		if (word_is(&part, "fire"))
			*perms |= EV_ACL_FIRE;
		else if (word_is(&part, "sub"))
			*perms |= EV_ACL_SUB;
		else if (word_is(&part, "list"))
			*perms |= EV_ACL_LIST;
		else if (word_is(&part, "all"))
			*perms |= EV_ACL_ALL;
		else {
			quote(q, sizeof(q), part.s, part.len);
			if (part.len == w->len)
				return perr(p, w->line, "'%s': unknown "
				    "permission (fire, sub, list or all)", q);
			quote(q2, sizeof(q2), w->s, w->len);
			return perr(p, w->line, "'%s' in '%s': unknown "
			    "permission (fire, sub, list or all)", q, q2);
		}
		s = comma + 1;
	}
	return 0;
}

/*
 * Fill the pattern's shape into e (ntok, hashtok, pre, suf, flags) and
 * its part of the rank into *rank.  The pattern has been checked.
 */
static void
pattern_shape(const char *pat, size_t len, struct ev_acl_ent *e,
    uint32_t *rank)
{
	unsigned nlit = 0, nhash = 0, nstar = 0, ntok = 0, i;
	size_t start = 0, k, lastwild = 0;
	bool bus = false, resthash = true, wild = false;

	e->pre = (uint8_t)len;
	for (k = 0; k <= len; k++) {
		if (k < len && pat[k] != '.')
			continue;
		i = ntok++;
		if (k - start == 1 && (pat[start] == '#' ||
		    pat[start] == '*')) {
			if (pat[start] == '#')
				nhash++;
			else {
				nstar++;
				if (i > 0)
					resthash = false;
			}
			if (!wild)
				e->pre = (uint8_t)(start > 0 ? start - 1 : 0);
			wild = true;
			lastwild = k;
		} else {
			nlit++;
			if (i == 0)
				bus = k == 5 && memcmp(pat, "evbus", 5) == 0;
			else
				resthash = false;
		}
		start = k + 1;
	}
	e->suf = (uint8_t)(wild && lastwild < len ? len - lastwild - 1 : 0);
	e->ntok = (uint8_t)(ntok - nhash);
	e->hashtok = nhash > 0;
	e->flags = bus ? F_BUS : F_USER;
	if (nlit == 0 && nhash > 0 && nstar <= 1)
		e->flags |= F_USER_ALL;
	if (bus && ntok > 1 && resthash)
		e->flags |= F_BUS_ALL;
	*rank = (uint32_t)nlit << 16 | (uint32_t)(255 - nhash) << 8 |
	    (uint32_t)(255 - nstar);
}

/*
 * The value of "user" (isuser) or "group": digits are an id, anything
 * else a name looked up now.  *name is the saved name, or NULL.
 */
static int
parse_id(struct parser *p, const struct word *w, bool isuser, uint32_t *id,
    const char **name)
{
	char q[QUOTE_MAX + 4], buf[IDNAME_MAX + 1];
	const char *what = isuser ? "user" : "group";
	struct passwd *pw = NULL;
	struct group *gr = NULL;
	uint64_t v;
	size_t i;

	quote(q, sizeof(q), w->s, w->len);
	for (i = 0; i < w->len && w->s[i] >= '0' && w->s[i] <= '9'; i++)
		;
	*name = NULL;
	if (i == w->len) {
		if (ev_parse_u64(w->s, w->len, UINT32_MAX - 1, &v) == -1)
			return perr(p, w->line, "%s '%s': %s out of range",
			    what, q, isuser ? "uid" : "gid");
		*id = (uint32_t)v;
		return 0;
	}
	if (w->len > IDNAME_MAX)
		return perr(p, w->line, "%s '%s': no such %s", what, q, what);
	memcpy(buf, w->s, w->len);
	buf[w->len] = '\0';
	errno = 0;
	if (isuser) {
		if ((pw = getpwnam(buf)) != NULL)
			*id = (uint32_t)pw->pw_uid;
	} else {
		if ((gr = getgrnam(buf)) != NULL)
			*id = (uint32_t)gr->gr_gid;
	}
	if ((isuser && pw == NULL) || (!isuser && gr == NULL)) {
		if (errno != 0 && errno != ENOENT && errno != ESRCH &&
		    errno != EBADF && errno != EPERM)
			return ev_err_sys(p->err, "%s:%u: %s '%s': %s",
			    p->file, w->line, what, q,
			    isuser ? "getpwnam" : "getgrnam");
		return perr(p, w->line, "%s '%s': no such %s", what, q, what);
	}
	*name = save(p, w->s, w->len);
	return 0;
}

/*
 * The value of "token": sha256:HEX, or a plain secret that is hashed
 * here.  A plain token is never quoted in a message.
 */
static int
parse_token(struct parser *p, const struct word *w, uint8_t *hash)
{
	SHA2_CTX ctx;
	size_t i;
	int hi = 0, lo;
	char c;

	if (w->len >= 7 && memcmp(w->s, "sha256:", 7) == 0) {
		if (w->len != 7 + 2 * EV_ACL_HASH_LEN)
			return perr(p, w->line, "token sha256: expected %d "
			    "hex digits after 'sha256:', found %zu",
			    2 * EV_ACL_HASH_LEN, w->len - 7);
		for (i = 0; i < 2 * EV_ACL_HASH_LEN; i++) {
			c = w->s[7 + i];
			lo = c >= '0' && c <= '9' ? c - '0' :
			    c >= 'a' && c <= 'f' ? c - 'a' + 10 :
			    c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
			if (lo == -1)
				return perr(p, w->line, "token sha256: '%c' "
				    "is not a hex digit", c);
			if (i % 2 == 0)
				hi = lo;
			else
				hash[i / 2] = (uint8_t)(hi << 4 | lo);
		}
		return 0;
	}
	if (w->len < EV_ACL_TOKEN_MIN)
		return perr(p, w->line, "a token of %zu bytes: a token must "
		    "have at least %d (or be written sha256:HEX)", w->len,
		    EV_ACL_TOKEN_MIN);
	SHA256Init(&ctx);
	SHA256Update(&ctx, (const uint8_t *)w->s, w->len);
	SHA256Final(hash, &ctx);
	explicit_bzero(&ctx, sizeof(ctx));
	if (p->plainline == 0)
		p->plainline = w->line;
	return 0;
}

static int
add_entry(struct parser *p, const struct ev_acl_ent *e)
{
	struct ev_acl_ent *ne;
	size_t ncap;

	if (p->nent == p->entcap) {
		ncap = p->entcap ? p->entcap * 2 : 16;
		if ((ne = reallocarray(p->ent, ncap, sizeof(*ne))) == NULL)
			return ev_err_sys(p->err, "%s", p->file);
		p->ent = ne;
		p->entcap = ncap;
	}
	p->ent[p->nent] = *e;
	p->ent[p->nent].seq = (uint32_t)p->nent;
	p->nent++;
	return 0;
}

/* Turn the words of one logical line into entries. */
static int
parse_rule(struct parser *p)
{
	struct word *w = p->w;
	struct ev_acl_ent e;
	struct ev_err pe;
	char q[QUOTE_MAX + 4];
	uint32_t patrank, who;
	size_t i, nwho = 0;

	if (p->nw == 0 || w[0].s[0] == '#')
		return 0;
	memset(&e, 0, sizeof(e));
	if (word_is(&w[0], "allow"))
		e.allow = true;
	else if (!word_is(&w[0], "deny")) {
		quote(q, sizeof(q), w[0].s, w[0].len);
		return perr(p, w[0].line, "'%s': expected allow or deny", q);
	}
	if (p->nw < 2)
		return perr(p, w[0].line, "%s: permissions expected (fire, "
		    "sub, list or all)", e.allow ? "allow" : "deny");
	if (parse_perms(p, &w[1], &e.perms) == -1)
		return -1;
	if (p->nw < 3)
		return perr(p, w[1].line, "a pattern expected after the "
		    "permissions");
	if (ev_pattern_check(w[2].s, w[2].len, &pe) == -1)
		return perr(p, w[2].line, "%s", pe.msg);
	pattern_shape(w[2].s, w[2].len, &e, &patrank);
	e.patlen = (uint16_t)w[2].len;
	e.pat = save(p, w[2].s, w[2].len);

	for (i = 3; i < p->nw && w[i].s[0] != '#'; i++, nwho++) {
		e.line = w[i].line;
		e.name = NULL;
		e.id = 0;
		memset(e.hash, 0, sizeof(e.hash));
		if (word_is(&w[i], "any")) {
			e.who = EV_ACL_WHO_ANY;
			who = RANK_ANY;
		} else if (word_is(&w[i], "user") || word_is(&w[i], "group") ||
		    word_is(&w[i], "token")) {
			if (i + 1 == p->nw)
				return perr(p, w[i].line, "'%.*s' needs %s",
				    (int)w[i].len, w[i].s, w[i].s[0] == 'u' ?
				    "a user name or uid" : w[i].s[0] == 'g' ?
				    "a group name or gid" : "a secret or "
				    "sha256:HEX");
			if (w[i].s[0] == 't') {
				e.who = EV_ACL_WHO_TOKEN;
				who = RANK_USER;
				if (parse_token(p, &w[i + 1], e.hash) == -1)
					return -1;
			} else if (w[i].s[0] == 'u') {
				e.who = EV_ACL_WHO_USER;
				who = RANK_USER;
				if (parse_id(p, &w[i + 1], true, &e.id,
				    &e.name) == -1)
					return -1;
			} else {
				e.who = EV_ACL_WHO_GROUP;
				who = RANK_GROUP;
				if (parse_id(p, &w[i + 1], false, &e.id,
				    &e.name) == -1)
					return -1;
			}
			i++;
		} else {
			quote(q, sizeof(q), w[i].s, w[i].len);
			return perr(p, w[i].line, "'%s': expected user, group, "
			    "token or any", q);
		}
		e.rank = who << 24 | patrank;
		if (add_entry(p, &e) == -1)
			return -1;
	}
	if (nwho == 0)
		return perr(p, w[2].line, "nobody named after the pattern: "
		    "expected user, group, token or any");
	p->nrules++;
	return 0;
}

/*
 * Read the text: physical lines joined where one ends in '\', each
 * logical line a rule.
 */
static int
parse_text(struct parser *p, const char *text, size_t len)
{
	const char *nl;
	size_t i = 0, start, end;
	unsigned line = 0;
	bool cont;

	while (i < len) {
		line++;
		start = i;
		nl = memchr(text + i, '\n', len - i);
		end = nl != NULL ? (size_t)(nl - text) : len;
		i = nl != NULL ? end + 1 : len;
		while (end > start && (text[end - 1] == ' ' ||
		    text[end - 1] == '\t' || text[end - 1] == '\r'))
			end--;
		cont = end > start && text[end - 1] == '\\';
		if (split_line(p, text + start, end - start - cont,
		    line) == -1)
			return -1;
		if (cont) {
			if (i == len)
				return perr(p, line, "'\\' at the end of the "
				    "file: the line goes on nowhere");
			continue;
		}
		if (parse_rule(p) == -1)
			return -1;
		p->nw = 0;
	}
	return 0;
}

/*
 * The order in which entries are tried: rank, higher first; deny before
 * allow; then file order.
 */
static int
ent_order(const void *a, const void *b)
{
	const struct ev_acl_ent *x = a, *y = b;

	if (x->rank != y->rank)
		return x->rank > y->rank ? -1 : 1;
	if (x->allow != y->allow)
		return x->allow ? 1 : -1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * Parse an ACL from text.  Copies of the patterns and names go to one
 * allocation sized at the start (the text's length plus a NUL a word
 * bounds them), the entries to an array then sorted in the order they
 * are tried.
 */
int
ev_acl_parse(const char *text, size_t len, const char *name,
    struct ev_acl **out, struct ev_err *err)
{
	struct parser p;
	struct ev_acl *acl = NULL;
	int saved;

	memset(&p, 0, sizeof(p));
	p.file = name;
	p.err = err;
	if (len > EV_ACL_FILE_MAX)
		return ev_err_set(err, EV_ERR_LIMIT, "%s: %zu bytes: an ACL "
		    "file may have at most %d", name, len, EV_ACL_FILE_MAX);
	p.strcap = 2 * len + 1;
	if ((p.str = malloc(p.strcap)) == NULL ||
	    (acl = calloc(1, sizeof(*acl))) == NULL ||
	    (acl->file = strdup(name)) == NULL) {
		ev_err_sys(err, "%s", name);
		goto fail;
	}
	if (parse_text(&p, text, len) == -1)
		goto fail;
	if (p.nent > 1)
		qsort(p.ent, p.nent, sizeof(*p.ent), ent_order);
	acl->ent = p.ent;
	acl->nent = p.nent;
	acl->nrules = p.nrules;
	acl->owner = geteuid();
	acl->plainline = p.plainline;
	acl->strings = p.str;
	free(p.w);
	*out = acl;
	return 0;
fail:
	saved = errno;
	free(p.w);
	free(p.ent);
	free(p.str);
	if (acl != NULL)
		free(acl->file);
	free(acl);
	errno = saved;
	return -1;
}

/*
 * Load the file at path: checked (a regular file, owned by root or us,
 * written only by its owner), read whole, parsed, and the copy of its
 * text wiped (it may hold plain tokens).
 */
int
ev_acl_load(const char *path, struct ev_acl **out, struct ev_err *err)
{
	struct ev_acl *acl;
	struct stat st;
	struct ev_buf text = { 0 };
	int fd, r = -1;

	/* O_NONBLOCK: opening a FIFO must not wait for a writer. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) == -1)
		return ev_err_sys(err, "%s", path);
	if (fstat(fd, &st) == -1) {
		ev_err_sys(err, "%s", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ev_err_set(err, EV_ERR_DENIED, "%s: not a regular file",
		    path);
		goto out;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		if (geteuid() == 0)
			ev_err_set(err, EV_ERR_DENIED, "%s: owned by uid %lu, "
			    "not by root: refusing it", path,
			    (unsigned long)st.st_uid);
		else
			ev_err_set(err, EV_ERR_DENIED, "%s: owned by uid %lu, "
			    "not by root or uid %lu (who runs evbusd): "
			    "refusing it", path, (unsigned long)st.st_uid,
			    (unsigned long)geteuid());
		goto out;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		ev_err_set(err, EV_ERR_DENIED, "%s: mode %04o lets %s write "
		    "it: refusing it (chmod go-w %s)", path,
		    (unsigned)(st.st_mode & 07777),
		    (st.st_mode & S_IWGRP) == 0 ? "others" :
		    (st.st_mode & S_IWOTH) == 0 ? "its group" :
		    "its group and others", path);
		goto out;
	}
	if (st.st_size > EV_ACL_FILE_MAX) {
		ev_err_set(err, EV_ERR_LIMIT, "%s: %jd bytes: an ACL file may "
		    "have at most %d", path, (intmax_t)st.st_size,
		    EV_ACL_FILE_MAX);
		goto out;
	}
	if (ev_buf_read(&text, fd, EV_ACL_FILE_MAX) == -1) {
		ev_err_sys(err, "%s", path);
		goto out;
	}
	if (ev_acl_parse(ev_buf_head(&text), ev_buf_unread(&text), path,
	    &acl, err) == -1)
		goto out;
	if (acl->plainline != 0 && (st.st_mode & S_IROTH) != 0) {
		ev_err_set(err, EV_ERR_DENIED, "%s:%u: a plain token in a file "
		    "that others may read: write it as sha256:HEX or "
		    "chmod o-r %s", path, acl->plainline, path);
		ev_acl_free(acl);
		goto out;
	}
	*out = acl;
	r = 0;
out:
	if (text.data != NULL)		/* it may hold plain tokens */
		explicit_bzero(text.data, text.len);
	ev_buf_free(&text);
	close(fd);
	return r;
}

void
ev_acl_free(struct ev_acl *acl)
{
	if (acl == NULL)
		return;
	if (acl->ent != NULL)
		explicit_bzero(acl->ent, acl->nent * sizeof(*acl->ent));
	free(acl->ent);
	free(acl->strings);
	free(acl->file);
	free(acl);
}

/* A permission set the way the file spells it, into s. */
static void
perm_text(char *s, size_t len, uint8_t perms)
{
	s[0] = '\0';
	if (perms == EV_ACL_ALL) {
		strlcpy(s, "all", len);
		return;
	}
	if (perms & EV_ACL_FIRE)
		strlcat(s, ",fire", len);
	if (perms & EV_ACL_SUB)
		strlcat(s, ",sub", len);
	if (perms & EV_ACL_LIST)
		strlcat(s, ",list", len);
	memmove(s, s + 1, strlen(s));
}

/* A token's hash as "sha256:HEX" into s (at least 72 bytes). */
static void
hash_text(char *s, const uint8_t *hash)
{
	static const char hex[] = "0123456789abcdef";
	size_t k;

	memcpy(s, "sha256:", 7);
	for (k = 0; k < EV_ACL_HASH_LEN; k++) {
		s[7 + 2 * k] = hex[hash[k] >> 4];
		s[7 + 2 * k + 1] = hex[hash[k] & 0xf];
	}
	s[7 + 2 * k] = '\0';
}

/*
 * Describe the ACL.  Columns are padded for reading, and a token goes on
 * a continuation line; the format ignores the extra blanks.
 */
int
ev_acl_describe(const struct ev_acl *acl, struct ev_buf *out)
{
	const struct ev_acl_ent *e;
	char perms[24], who[8 + 2 * EV_ACL_HASH_LEN + 8];
	size_t i;
	int r;

	r = ev_buf_printf(out, "# %s: %zu rule%s, %zu entr%s, tried in this "
	    "order:\n# the first whose permission, pattern and who match "
	    "decides; none: denied.\n", acl->file, acl->nrules,
	    acl->nrules == 1 ? "" : "s", acl->nent,
	    acl->nent == 1 ? "y" : "ies");
	if (r >= 0 && acl->owner == 0)
		r = ev_buf_printf(out, "# Always allowed everything: root "
		    "(uid 0), the bus's owner.\n");
	else if (r >= 0)
		r = ev_buf_printf(out, "# Always allowed everything: root "
		    "(uid 0) and the bus's owner (uid %lu).\n",
		    (unsigned long)acl->owner);
	for (i = 0; r >= 0 && i < acl->nent; i++) {
		e = &acl->ent[i];
		perm_text(perms, sizeof(perms), e->perms);
		switch (e->who) {
		case EV_ACL_WHO_USER:
		case EV_ACL_WHO_GROUP:
			snprintf(who, sizeof(who), "%s %lu",
			    e->who == EV_ACL_WHO_USER ? "user" : "group",
			    (unsigned long)e->id);
			break;
		case EV_ACL_WHO_TOKEN:
			memcpy(who, "token ", 6);
			hash_text(who + 6, e->hash);
			break;
		default:
			strlcpy(who, "any", sizeof(who));
			break;
		}
		/* A token's 71 characters go on a line of their own. */
		r = ev_buf_printf(out, "%-5s %-9s %-15s %s%s # line %u%s%s\n",
		    e->allow ? "allow" : "deny", perms, e->pat,
		    e->who == EV_ACL_WHO_TOKEN ? "\\\n      " : "", who,
		    e->line, e->name != NULL ? ": " : "",
		    e->name != NULL ? e->name : "");
	}
	return r < 0 ? -1 : 0;
}

/*
 * Fill an identity.  getpwuid_r finds the user's name, which getgrouplist
 * needs; a buffer too small is grown (ERANGE), a list of groups too short
 * too.  Note that getgrouplist reports no failure of the group database:
 * what it could read is what the identity gets.
 */
int
ev_acl_id_init(struct ev_acl_id *id, uid_t uid, gid_t gid, const char *token,
    size_t toklen, struct ev_err *err)
{
	struct passwd pw, *res = NULL;
	SHA2_CTX ctx;
	char *buf = NULL, *nb;
	gid_t *groups = NULL, *ng;
	long sz;
	size_t bufsize;
	int n = 0, want, r, saved;

	memset(id, 0, sizeof(*id));
	id->uid = uid;
	id->gid = gid;
	sz = sysconf(_SC_GETPW_R_SIZE_MAX);
	bufsize = sz > 0 ? (size_t)sz : 16384;
	for (;;) {
		if ((nb = realloc(buf, bufsize)) == NULL)
			goto sysfail;
		buf = nb;
		r = getpwuid_r(uid, &pw, buf, bufsize, &res);
		if (r != ERANGE || bufsize >= 1024 * 1024)
			break;
		bufsize *= 2;
	}
	if (res == NULL && r != 0 && r != ENOENT && r != ESRCH &&
	    r != EBADF && r != EPERM) {
		errno = r;
		ev_err_sys(err, "the groups of uid %lu: getpwuid_r",
		    (unsigned long)uid);
		goto fail;
	}
	if (res == NULL) {
		if ((groups = malloc(sizeof(*groups))) == NULL)
			goto sysfail;
		groups[0] = gid;
		n = 1;
	} else {
		want = 32;
		for (;;) {
			ng = reallocarray(groups, (size_t)want,
			    sizeof(*groups));
			if (ng == NULL)
				goto sysfail;
			groups = ng;
			n = want;
			if (getgrouplist(pw.pw_name, gid, groups, &n) != -1)
				break;
			if (want >= GROUPS_MAX) {
				errno = E2BIG;
				ev_err_sys(err, "the groups of uid %lu",
				    (unsigned long)uid);
				goto fail;
			}
			want = n > want ? n : want * 2;
			if (want > GROUPS_MAX)
				want = GROUPS_MAX;
		}
	}
	if (res != NULL && (id->user = strdup(pw.pw_name)) == NULL)
		goto sysfail;
	free(buf);
	id->groups = groups;
	id->ngroups = (size_t)n;
	if (token != NULL) {
		SHA256Init(&ctx);
		SHA256Update(&ctx, (const uint8_t *)token, toklen);
		SHA256Final(id->token, &ctx);
		explicit_bzero(&ctx, sizeof(ctx));
		id->hastoken = true;
	}
	return 0;
sysfail:
	ev_err_sys(err, "the groups of uid %lu", (unsigned long)uid);
fail:
	saved = errno;
	free(buf);
	free(groups);
	free(id->user);
	memset(id, 0, sizeof(*id));
	errno = saved;
	return -1;
}

void
ev_acl_id_free(struct ev_acl_id *id)
{
	free(id->groups);
	free(id->user);
	explicit_bzero(id, sizeof(*id));
}

/*
 * Compare two hashes in constant time: every byte is looked at whatever
 * the earlier ones were, so the time says nothing about where they
 * differ.
 */
static bool
hash_equal(const uint8_t *a, const uint8_t *b)
{
	volatile uint8_t d = 0;
	size_t i;

	for (i = 0; i < EV_ACL_HASH_LEN; i++)
		d |= a[i] ^ b[i];
	return d == 0;
}

static bool
who_match(const struct ev_acl_ent *e, const struct ev_acl_id *id)
{
	size_t i;

	switch (e->who) {
	case EV_ACL_WHO_ANY:
		return true;
	case EV_ACL_WHO_USER:
		return (uid_t)e->id == id->uid;
	case EV_ACL_WHO_GROUP:
		if ((gid_t)e->id == id->gid)
			return true;
		for (i = 0; i < id->ngroups; i++)
			if ((gid_t)e->id == id->groups[i])
				return true;
		return false;
	case EV_ACL_WHO_TOKEN:
		return id->hastoken && hash_equal(e->hash, id->token);
	}
	return false;
}

/* The facts about the name that let most entries be passed over. */
static void
name_info(struct nameinfo *ni, const char *name, size_t len)
{
	const char *p = name, *end = name + len;

	ni->s = name;
	ni->len = len;
	ni->ntok = 1;
	while ((p = memchr(p, '.', (size_t)(end - p))) != NULL) {
		ni->ntok++;
		p++;
	}
	ni->kind = ev_name_reserved(name, len) ? F_BUS : F_USER;
}

/*
 * Can e's pattern match the name?  A pattern of n tokens other than '#'
 * matches only names of n tokens (n or more with a '#'), and its literal
 * tokens before the first wildcard and after the last must be the name's
 * first and last: most entries are passed over on these before their WHO
 * is looked at and their pattern matched.
 */
static bool
ent_may_match(const struct ev_acl_ent *e, const struct nameinfo *ni)
{
	const char *s = ni->s;
	size_t len = ni->len;

	if ((e->flags & ni->kind) == 0)
		return false;
	if (e->hashtok ? ni->ntok < e->ntok : ni->ntok != e->ntok)
		return false;
	if (e->pre != 0 && (len < e->pre || (len > e->pre &&
	    s[e->pre] != '.') || memcmp(s, e->pat, e->pre) != 0))
		return false;
	return e->suf == 0 || (len >= e->suf && (len == e->suf ||
	    s[len - e->suf - 1] == '.') &&
	    memcmp(s + len - e->suf, e->pat + e->patlen - e->suf,
	    e->suf) == 0);
}

static bool
always(const struct ev_acl *acl, const struct ev_acl_id *id)
{
	return acl == NULL || id->uid == 0 || id->uid == acl->owner;
}

bool
ev_acl_check(const struct ev_acl *acl, const struct ev_acl_id *id,
    unsigned perm, const char *name, size_t namelen)
{
	const struct ev_acl_ent *e;
	struct nameinfo ni;
	size_t i;

	if (always(acl, id))
		return true;
	if (namelen == 0 || namelen > EV_NAME_MAX)
		return false;
	name_info(&ni, name, namelen);
	for (i = 0; i < acl->nent; i++)
		if ((e = &acl->ent[i])->perms & perm &&
		    ent_may_match(e, &ni) &&
		    who_match(e, id) &&
		    ev_pattern_match(e->pat, e->patlen, name, namelen))
			return e->allow;
	return false;
}

/*
 * Is each kind of name (not under "evbus.", under it) allowed as a whole?
 * Walking in the order entries are tried, the first of id's entries that
 * settles a kind does: a deny that may match a name of that kind makes it
 * restricted (it comes before any allow it could lose to), an allow that
 * matches every name of that kind makes it free.
 */
static void
scope(const struct ev_acl *acl, const struct ev_acl_id *id, unsigned perm,
    bool *user_all, bool *bus_all)
{
	const struct ev_acl_ent *e;
	bool udone = false, bdone = false;
	size_t i;

	*user_all = *bus_all = false;
	for (i = 0; i < acl->nent && !(udone && bdone); i++) {
		e = &acl->ent[i];
		if ((e->perms & perm) == 0 || !who_match(e, id))
			continue;
		if (!udone && (e->flags & F_USER) != 0 &&
		    (!e->allow || (e->flags & F_USER_ALL) != 0)) {
			udone = true;
			*user_all = e->allow;
		}
		if (!bdone && (e->flags & F_BUS) != 0 &&
		    (!e->allow || (e->flags & F_BUS_ALL) != 0)) {
			bdone = true;
			*bus_all = e->allow;
		}
	}
}

bool
ev_acl_unrestricted(const struct ev_acl *acl, const struct ev_acl_id *id,
    unsigned perm)
{
	bool u, b;

	if (always(acl, id))
		return true;
	scope(acl, id, perm, &u, &b);
	return u && b;
}

/*
 * Prepare a view: the entries for id and perm that can still decide
 * something.  A kind of name the scope frees needs none; after an entry
 * whose pattern matches every name of a kind, no later one decides for
 * that kind.
 */
int
ev_acl_view_init(struct ev_acl_view *v, const struct ev_acl *acl,
    const struct ev_acl_id *id, unsigned perm, struct ev_err *err)
{
	const struct ev_acl_ent *e;
	bool ucut, bcut, want, anyallow = false;
	size_t i, n = 0;
	int pass;

	memset(v, 0, sizeof(*v));
	if (always(acl, id)) {
		v->always = v->user_all = v->bus_all = true;
		return 0;
	}
	scope(acl, id, perm, &v->user_all, &v->bus_all);
	/* Count, then fill. */
	for (pass = 0; pass < 2; pass++) {
		ucut = v->user_all;
		bcut = v->bus_all;
		n = 0;
		for (i = 0; i < acl->nent && !(ucut && bcut); i++) {
			e = &acl->ent[i];
			if ((e->perms & perm) == 0 || !who_match(e, id))
				continue;
			want = ((e->flags & F_USER) != 0 && !ucut) ||
			    ((e->flags & F_BUS) != 0 && !bcut);
			if (e->flags & F_USER_ALL)
				ucut = true;
			if (e->flags & F_BUS_ALL)
				bcut = true;
			if (!want)
				continue;
			if (pass == 1)
				v->ent[n] = e;
			anyallow |= e->allow;
			n++;
		}
		if (pass == 0 && n > 0 &&
		    (v->ent = calloc(n, sizeof(*v->ent))) == NULL)
			return ev_err_sys(err, "ACL view");
	}
	v->nent = n;
	v->none = !anyallow && !v->user_all && !v->bus_all;
	if (n > 0 && !v->none &&
	    (v->memo = calloc(EV_ACL_MEMO, sizeof(*v->memo))) == NULL) {
		free(v->ent);
		memset(v, 0, sizeof(*v));
		return ev_err_sys(err, "ACL view");
	}
	return 0;
}

/* FNV-1a, 32 bits: a slot in the cache, never trusted without a compare. */
static uint32_t
name_hash(const char *s, size_t len)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

bool
ev_acl_view_check(struct ev_acl_view *v, const char *name, size_t namelen)
{
	const struct ev_acl_ent *e;
	struct ev_acl_memo *m = NULL;
	size_t i;
	struct nameinfo ni;
	uint32_t h = 0;
	bool allow = false;

	if (v->always)
		return true;
	if (namelen == 0 || namelen > EV_NAME_MAX || v->none)
		return false;
	if (ev_name_reserved(name, namelen) ? v->bus_all : v->user_all)
		return true;
	if (v->memo != NULL && namelen <= EV_ACL_MEMO_NAME) {
		h = name_hash(name, namelen);
		m = &v->memo[h % EV_ACL_MEMO];
		if (m->len == namelen && m->hash == h &&
		    memcmp(m->name, name, namelen) == 0)
			return m->allow;
	}
	name_info(&ni, name, namelen);
	for (i = 0; i < v->nent; i++) {
		e = v->ent[i];
		if (ent_may_match(e, &ni) &&
		    ev_pattern_match(e->pat, e->patlen, name, namelen)) {
			allow = e->allow;
			break;
		}
	}
	if (m != NULL) {
		m->hash = h;
		m->len = (uint8_t)namelen;
		m->allow = allow;
		memcpy(m->name, name, namelen);
	}
	return allow;
}

void
ev_acl_view_free(struct ev_acl_view *v)
{
	free(v->ent);
	free(v->memo);
	memset(v, 0, sizeof(*v));
}

/* ----- what a subscription's pattern may reach ----- */

#define PTOK_MAX	(EV_NAME_MAX / 2 + 1)	/* tokens of one pattern */

/* A token of a pattern: where it is, and whether it is '#' or '*'. */
struct ptok {
	const char	*s;
	uint16_t	 len;
	char		 wild;		/* '#', '*' or 0 */
};

/* Split a checked pattern into t[]; the number of tokens. */
static unsigned
ptokens(const char *pat, size_t len, struct ptok *t)
{
	size_t k, start = 0;
	unsigned n = 0;

	for (k = 0; k <= len && n < PTOK_MAX; k++) {
		if (k < len && pat[k] != '.')
			continue;
		t[n].s = pat + start;
		t[n].len = (uint16_t)(k - start);
		t[n].wild = k - start == 1 && (pat[start] == '#' ||
		    pat[start] == '*') ? pat[start] : 0;
		n++;
		start = k + 1;
	}
	return n;
}

/* Can two single-token positions be the same name token? */
static bool
ptok_meet(const struct ptok *a, const struct ptok *b)
{
	return a->wild == '*' || b->wild == '*' || (a->len == b->len &&
	    memcmp(a->s, b->s, a->len) == 0);
}

/*
 * Is there a name that both a[0..n) and b[0..m) match?  ov(i, j) says the
 * tails a[i..] and b[j..] have a common match; a '#' matches nothing or
 * eats one more token of the other side.  Filled from the ends, two rows.
 */
static bool
poverlap(const struct ptok *a, unsigned n, const struct ptok *b, unsigned m)
{
	bool row[2][PTOK_MAX + 1] = { { false } }, *cur, *nx;
	unsigned i, j;

	for (i = n + 1; i-- > 0;) {
		cur = row[i % 2];
		nx = row[(i + 1) % 2];
		for (j = m + 1; j-- > 0;) {
			if (i == n && j == m)
				cur[j] = true;
			else if (i < n && a[i].wild == '#')
				cur[j] = nx[j] || (j < m && cur[j + 1]);
			else if (j < m && b[j].wild == '#')
				cur[j] = cur[j + 1] || (i < n && nx[j]);
			else
				cur[j] = i < n && j < m &&
				    ptok_meet(&a[i], &b[j]) && nx[j + 1];
		}
	}
	return row[0][0];
}

/*
 * Does every name that p[0..m) matches also match e[0..n)?  A sufficient
 * test: cv(i, j) holds when e[i..] covers p[j..] token by token, an e '#'
 * taking in any run of p's tokens.  It may answer no for patterns that
 * cover each other in a roundabout way ("*.#" and "#.*"); the caller
 * only loses a shortcut then.
 */
static bool
pcovers(const struct ptok *e, unsigned n, const struct ptok *p, unsigned m)
{
	bool row[2][PTOK_MAX + 1] = { { false } }, *cur, *nx;
	unsigned i, j;

	for (i = n + 1; i-- > 0;) {
		cur = row[i % 2];
		nx = row[(i + 1) % 2];
		for (j = m + 1; j-- > 0;) {
			if (i == n)
				cur[j] = j == m;
			else if (e[i].wild == '#')
				cur[j] = nx[j] || (j < m && cur[j + 1]);
			else if (j == m || p[j].wild == '#')
				cur[j] = false;
			else if (e[i].wild == '*')
				cur[j] = nx[j + 1];
			else
				cur[j] = p[j].wild == 0 &&
				    p[j].len == e[i].len &&
				    memcmp(p[j].s, e[i].s, e[i].len) == 0 &&
				    nx[j + 1];
		}
	}
	return row[0][0];
}

/*
 * The view's entries in order: the first that may allow a name of the
 * pattern says yes; a deny entry met before it that covers the whole
 * pattern says no.  The kinds of names keep their rule: a pattern whose
 * first token is a wildcard reaches no name under "evbus.".
 */
bool
ev_acl_view_reaches(const struct ev_acl_view *v, const char *pat,
    size_t len)
{
	struct ptok pt[PTOK_MAX], et[PTOK_MAX];
	const struct ev_acl_ent *e;
	unsigned np, ne;
	uint8_t kind;
	size_t i;

	if (v->always)
		return true;
	if (v->none || len == 0)
		return false;
	kind = len >= 5 && memcmp(pat, "evbus", 5) == 0 &&
	    (len == 5 || pat[5] == '.') ? F_BUS : F_USER;
	if (kind == F_BUS ? v->bus_all : v->user_all)
		return true;
	np = ptokens(pat, len, pt);
	for (i = 0; i < v->nent; i++) {
		e = v->ent[i];
		if ((e->flags & kind) == 0)
			continue;
		ne = ptokens(e->pat, e->patlen, et);
		if (!poverlap(et, ne, pt, np))
			continue;
		if (e->allow)
			return true;
		if (pcovers(et, ne, pt, np))
			return false;
	}
	return false;
}
