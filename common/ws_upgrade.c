/* ws_upgrade: the WebSocket opening handshake's HTTP messages, via http-parser. */
#include "ws_upgrade.h"

#include <http_parser.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "xport.h"

#define MAX_HEADERS 32

typedef struct span {
    uint32_t off, len;
} span_t;

struct ws_upgrade {
    http_parser p;
    int response;
    int state; /* WS_UP_* once final */
    int done;  /* headers complete */
    int last;  /* 0, 1: a field piece came last, 2: a value piece */
    int too_many;
    size_t max;
    uint8_t *buf;
    size_t len;
    span_t url;
    span_t name[MAX_HEADERS], value[MAX_HEADERS];
    int nh;
};

static ws_upgrade_t *of(http_parser *p) { return p->data; }

static void extend(ws_upgrade_t *u, span_t *s, const char *at, size_t len)
{
    if (s->len == 0)
        s->off = (uint32_t)((const uint8_t *)at - u->buf);
    s->len += (uint32_t)len;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    extend(of(p), &of(p)->url, at, len);
    return 0;
}

static int on_field(http_parser *p, const char *at, size_t len)
{
    ws_upgrade_t *u = of(p);
    if (u->last != 1) {
        if (u->nh == MAX_HEADERS) {
            u->too_many = 1;
            return 1;
        }
        u->nh++;
    }
    u->last = 1;
    extend(u, &u->name[u->nh - 1], at, len);
    return 0;
}

static int on_value(http_parser *p, const char *at, size_t len)
{
    ws_upgrade_t *u = of(p);
    u->last = 2;
    extend(u, &u->value[u->nh - 1], at, len);
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    of(p)->done = 1;
    return 0;
}

static int on_message_complete(http_parser *p)
{
    http_parser_pause(p, 1); /* one message: what follows is not ours to parse */
    return 0;
}

static const http_parser_settings SETTINGS = {
    .on_url = on_url,
    .on_header_field = on_field,
    .on_header_value = on_value,
    .on_headers_complete = on_headers_complete,
    .on_message_complete = on_message_complete,
};

ws_upgrade_t *ws_upgrade_new(int response, size_t max_bytes)
{
    ws_upgrade_t *u = xcalloc(1, sizeof *u);
    http_parser_init(&u->p, response ? HTTP_RESPONSE : HTTP_REQUEST);
    u->p.data = u;
    u->response = response;
    u->max = max_bytes;
    return u;
}

void ws_upgrade_free(ws_upgrade_t *u)
{
    if (!u)
        return;
    xfree(u->buf);
    xfree(u);
}

int ws_upgrade_feed(ws_upgrade_t *u, const uint8_t *data, size_t n, size_t *used)
{
    *used = 0;
    if (u->state != WS_UP_MORE)
        return u->state;
    size_t old = u->len;
    size_t take = n < u->max - u->len ? n : u->max - u->len;
    if (!u->buf)
        u->buf = xmalloc(u->max);
    memcpy(u->buf + u->len, data, take);
    u->len += take;
    size_t k = http_parser_execute(&u->p, &SETTINGS, (const char *)u->buf + old, take);
    enum http_errno e = HTTP_PARSER_ERRNO(&u->p);
    if (u->too_many) {
        u->state = WS_UP_ETOOBIG;
    } else if (u->done && (e == HPE_OK || e == HPE_PAUSED)) {
        u->state = WS_UP_DONE;
        *used = k;
    } else if (e != HPE_OK) {
        u->state = WS_UP_EBAD;
    } else if (u->len == u->max) {
        u->state = WS_UP_ETOOBIG;
    }
    return u->state;
}

/* The value of the only header called name (trimmed); NULL when absent; *count how many. */
static const char *header(const ws_upgrade_t *u, const char *name, size_t *len, int *count)
{
    const char *v = NULL;
    *count = 0;
    size_t nl = strlen(name);
    for (int i = 0; i < u->nh; i++) {
        if (u->name[i].len != nl || strncasecmp((const char *)u->buf + u->name[i].off, name, nl) != 0)
            continue;
        (*count)++;
        const char *s = (const char *)u->buf + u->value[i].off;
        size_t l = u->value[i].len;
        while (l && (*s == ' ' || *s == '\t'))
            s++, l--;
        while (l && (s[l - 1] == ' ' || s[l - 1] == '\t'))
            l--;
        v = s;
        *len = l;
    }
    return v;
}

/* 1 when the comma-separated list v holds token (case-insensitive). */
static int has_token(const char *v, size_t len, const char *token)
{
    size_t tl = strlen(token);
    size_t i = 0;
    while (v && i < len) {
        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < len && v[i] != ',')
            i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e - s == tl && strncasecmp(v + s, token, tl) == 0)
            return 1;
    }
    return 0;
}

void ws_accept_key(const char *key, size_t key_len, char out[WS_ACCEPT_LEN + 1])
{
    static const char GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    uint8_t in[128 + sizeof GUID];
    if (key_len > 128)
        key_len = 128;
    memcpy(in, key, key_len);
    memcpy(in + key_len, GUID, sizeof GUID - 1);
    uint8_t md[SHA_DIGEST_LENGTH];
    SHA1(in, key_len + sizeof GUID - 1, md);
    EVP_EncodeBlock((unsigned char *)out, md, SHA_DIGEST_LENGTH);
    out[WS_ACCEPT_LEN] = '\0';
}

int ws_upgrade_check_request(const ws_upgrade_t *u, const char *origins,
                             char accept[WS_ACCEPT_LEN + 1], int *status)
{
    size_t len = 0;
    int count;
    *status = 400;
    if (u->state != WS_UP_DONE)
        return XF_HTTP_BAD;
    if (u->p.method != HTTP_GET) {
        *status = 405;
        return XF_HTTP_METHOD;
    }
    if (u->p.http_major != 1 || u->p.http_minor < 1)
        return XF_HTTP_BAD;
    const char *url = (const char *)u->buf + u->url.off;
    if (u->url.len == 0 || url[0] != '/' || (u->url.len > 1 && url[1] != '?')) {
        *status = 404;
        return XF_HTTP_PATH;
    }
    if (!header(u, "Host", &len, &count) || count != 1)
        return XF_HTTP_BAD;
    const char *v = header(u, "Upgrade", &len, &count);
    if (!v || !has_token(v, len, "websocket"))
        return XF_HTTP_BAD;
    v = header(u, "Connection", &len, &count);
    if (!v || !has_token(v, len, "upgrade"))
        return XF_HTTP_BAD;
    v = header(u, "Sec-WebSocket-Version", &len, &count);
    if (!v || count != 1 || len != 2 || memcmp(v, "13", 2) != 0) {
        *status = 426;
        return XF_WS_VERSION;
    }
    const char *key = header(u, "Sec-WebSocket-Key", &len, &count);
    uint8_t bin[32];
    size_t bin_len = 0;
    if (!key || count != 1 || len != WS_KEY_LEN ||
        sodium_base642bin(bin, sizeof bin, key, len, NULL, &bin_len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        bin_len != 16)
        return XF_WS_KEY;
    size_t key_len = len;
    v = header(u, "Origin", &len, &count);
    if (origins && *origins && v) {
        int ok = 0;
        if (count == 1 && len < 512) {
            char o[512];
            memcpy(o, v, len);
            o[len] = '\0';
            ok = has_token(origins, strlen(origins), o);
        }
        if (!ok) {
            *status = 403;
            return XF_ORIGIN;
        }
    }
    ws_accept_key(key, key_len, accept);
    *status = 101;
    return 0;
}

int ws_upgrade_check_response(const ws_upgrade_t *u, const char *key)
{
    size_t len = 0;
    int count;
    if (u->state != WS_UP_DONE || u->p.status_code != 101)
        return -1;
    const char *v = header(u, "Upgrade", &len, &count);
    if (!v || !has_token(v, len, "websocket"))
        return -1;
    v = header(u, "Connection", &len, &count);
    if (!v || !has_token(v, len, "upgrade"))
        return -1;
    if (header(u, "Sec-WebSocket-Extensions", &len, &count))
        return -1;
    char want[WS_ACCEPT_LEN + 1];
    ws_accept_key(key, strlen(key), want);
    v = header(u, "Sec-WebSocket-Accept", &len, &count);
    if (!v || count != 1 || len != WS_ACCEPT_LEN || memcmp(v, want, WS_ACCEPT_LEN) != 0)
        return -1;
    return 0;
}

static const char *status_text(int status)
{
    switch (status) {
    case 101: return "Switching Protocols";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 426: return "Upgrade Required";
    case 431: return "Request Header Fields Too Large";
    default: return "Bad Request";
    }
}

size_t ws_upgrade_reply(char *out, size_t cap, int status, const char *accept)
{
    int n;
    if (status == 101)
        n = snprintf(out, cap,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                     accept);
    else
        n = snprintf(out, cap,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n%s\r\n%s\n",
                     status, status_text(status), strlen(status_text(status)) + 1,
                     status == 426 ? "Sec-WebSocket-Version: 13\r\n" : "", status_text(status));
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

size_t ws_upgrade_request(char *out, size_t cap, const char *host, char key[WS_KEY_LEN + 1])
{
    uint8_t raw[16];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(key, WS_KEY_LEN + 1, raw, sizeof raw, sodium_base64_VARIANT_ORIGINAL);
    int n = snprintf(out, cap,
                     "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     host, key);
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}
