/* tls: TLS contexts (OpenSSL 3) and the TLS transport of conn: the SSL object is driven on the
 * loop through a BIO over our own buffers (a memory BIO that holds nothing between calls):
 * reads feed it the bytes libuv just read, writes append to a buffer the flush hands to
 * libuv. No blocking call, no thread; with SSL_MODE_RELEASE_BUFFERS an idle conn holds no
 * record buffers and no BIO buffer. */
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "conn_internal.h"
#include "log.h"

struct tls_ctx {
    SSL_CTX *ctx;
    int server;
};

static void ssl_err(char *err, size_t n, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[256] = "";
    if (e)
        ERR_error_string_n(e, buf, sizeof buf);
    snprintf(err, n, "%s%s%s", what, e ? ": " : "", buf);
    ERR_clear_error();
}

/* A context for method with what both sides set: TLS 1.2 at least, buffers released while
 * idle. NULL with err filled when OpenSSL fails. */
static SSL_CTX *ctx_new(const SSL_METHOD *method, char *err, size_t n)
{
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(method);
    if (!ctx) {
        ssl_err(err, n, "SSL_CTX_new");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    return ctx;
}

static SSL_CTX *server_ctx_new(const char *cert_file, const char *key_file, char *err, size_t n)
{
    SSL_CTX *ctx = ctx_new(TLS_server_method(), err, n);
    if (!ctx)
        return NULL;
    SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_NO_COMPRESSION);
    /* Resumption by stateless session tickets only: no per-session memory on the server. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 1);
    if (!cert_file || !*cert_file || !key_file || !*key_file) {
        snprintf(err, n, "TLS_CERT_FILE and TLS_KEY_FILE are required");
        SSL_CTX_free(ctx);
        return NULL;
    }
    const char *failed = NULL;
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1)
        failed = "cannot load the certificate chain";
    else if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1)
        failed = "cannot load the private key";
    else if (SSL_CTX_check_private_key(ctx) != 1)
        failed = "the key does not match the certificate";
    if (failed) {
        ssl_err(err, n, failed);
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

tls_ctx_t *tls_ctx_server(const char *cert_file, const char *key_file, char *err, size_t n)
{
    SSL_CTX *ctx = server_ctx_new(cert_file, key_file, err, n);
    if (!ctx)
        return NULL;
    tls_ctx_t *t = xcalloc(1, sizeof *t);
    t->ctx = ctx;
    t->server = 1;
    return t;
}

tls_ctx_t *tls_ctx_client(const char *ca_file, char *err, size_t n)
{
    SSL_CTX *ctx = ctx_new(TLS_client_method(), err, n);
    if (!ctx)
        return NULL;
    if (ca_file && *ca_file) {
        if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
            ssl_err(err, n, "cannot load the CA file");
            SSL_CTX_free(ctx);
            return NULL;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    tls_ctx_t *t = xcalloc(1, sizeof *t);
    t->ctx = ctx;
    return t;
}

void tls_ctx_adopt(tls_ctx_t *t, tls_ctx_t *fresh)
{
    SSL_CTX *ctx = fresh->ctx;
    xfree(fresh);
    /* Tickets issued before the reload still resume. */
    unsigned char keys[80];
    if (SSL_CTX_get_tlsext_ticket_keys(t->ctx, keys, sizeof keys) == 1)
        (void)SSL_CTX_set_tlsext_ticket_keys(ctx, keys, sizeof keys);
    OPENSSL_cleanse(keys, sizeof keys);
    SSL_CTX_free(t->ctx); /* open conns hold their own reference */
    t->ctx = ctx;
}

void tls_ctx_describe(const tls_ctx_t *t, char *out, size_t n)
{
    snprintf(out, n, "%s", "");
    X509 *cert = SSL_CTX_get0_certificate(t->ctx);
    if (!cert)
        return;
    char subject[256] = "";
    X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof subject);
    char until[64] = "";
    BIO *b = BIO_new(BIO_s_mem());
    if (b) {
        ASN1_TIME_print(b, X509_get0_notAfter(cert));
        int k = BIO_read(b, until, sizeof until - 1);
        until[k > 0 ? k : 0] = '\0';
        BIO_free(b);
    }
    snprintf(out, n, "subject=\"%s\" not_after=\"%s\"", subject, until);
}

void tls_ctx_free(tls_ctx_t *t)
{
    if (!t)
        return;
    SSL_CTX_free(t->ctx);
    xfree(t);
}

/* ---- the BIO over our buffers ---- */

static int bio_read(BIO *b, char *out, int len)
{
    conn_x_t *x = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (x->in_len == 0) {
        BIO_set_retry_read(b);
        return -1;
    }
    size_t k = (size_t)len < x->in_len ? (size_t)len : x->in_len;
    memcpy(out, x->in, k);
    x->in += k;
    x->in_len -= k;
    return (int)k;
}

static int bio_write(BIO *b, const char *in, int len)
{
    conn_x_t *x = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    size_t need = x->wire_len + (size_t)len;
    if (need > x->wire_cap) {
        size_t cap = x->wire_cap ? x->wire_cap : 1024;
        while (cap < need)
            cap *= 2;
        x->wire = xrealloc(x->wire, cap);
        x->wire_cap = cap;
    }
    memcpy(x->wire + x->wire_len, in, (size_t)len);
    x->wire_len += (size_t)len;
    return len;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b; (void)num; (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static BIO_METHOD *bio_method(void)
{
    static BIO_METHOD *m; /* one per process, for its life */
    if (!m) {
        m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "cluster-conn");
        BIO_meth_set_read(m, bio_read);
        BIO_meth_set_write(m, bio_write);
        BIO_meth_set_ctrl(m, bio_ctrl);
    }
    return m;
}

/* ---- the transport ---- */

static int fail_reason(conn_x_t *x)
{
    if (x->got_first && x->first_byte != 0x16)
        return XF_NOT_TLS;
    unsigned long e = ERR_peek_error();
    int r = ERR_GET_REASON(e);
    if (r == SSL_R_UNSUPPORTED_PROTOCOL || r == SSL_R_VERSION_TOO_LOW ||
        r == SSL_R_TLSV1_ALERT_PROTOCOL_VERSION)
        return XF_TLS_VERSION;
    return XF_TLS_OTHER;
}

static void handshake_failed(conn_t *c)
{
    conn_x_t *x = conn_x(c);
    int reason = fail_reason(x);
    char buf[256] = "";
    ERR_error_string_n(ERR_peek_error(), buf, sizeof buf);
    ERR_clear_error();
    log_debug("tls_handshake_failed", "reason=%s openssl=\"%s\"", xport_fail_name(reason), buf);
    conn_hs_fail(c, reason); /* the alert OpenSSL queued goes out first */
}

/* Runs the handshake, then reads every record the input completes. */
static void tls_drive(conn_t *c)
{
    conn_x_t *x = conn_x(c);
    if (!x->tls_done) {
        ERR_clear_error();
        int r = SSL_do_handshake(x->ssl);
        if (r != 1) {
            if (SSL_get_error(x->ssl, r) == SSL_ERROR_WANT_READ) {
                if (x->wire_len)
                    conn_mark_dirty(c);
                return;
            }
            handshake_failed(c);
            return;
        }
        x->tls_done = 1;
        if (x->wire_len)
            conn_mark_dirty(c);
        if (c->kind == XPORT_WSS)
            ws_lower_ready(c);
        else
            conn_ready(c);
    }
    /* Only while there is ciphertext to read: an SSL_read with nothing to give it allocates
     * a 16 KiB record buffer and keeps it (RELEASE_BUFFERS frees it only once a record was
     * consumed), which an idle conn must not hold. */
    while (!c->closing && !c->flush_then_close && (x->in_len > 0 || SSL_has_pending(x->ssl))) {
        ERR_clear_error();
        int r = SSL_read(x->ssl, c->cl->plain, sizeof c->cl->plain);
        if (r > 0) {
            conn_deliver(c, c->cl->plain, (size_t)r);
            continue;
        }
        int e = SSL_get_error(x->ssl, r);
        if (e == SSL_ERROR_WANT_READ)
            break;
        ERR_clear_error();
        conn_close(c, e == SSL_ERROR_ZERO_RETURN ? CONN_CLOSE_EOF : CONN_CLOSE_PROTOCOL);
        return;
    }
    /* Nothing left to read: give back the record buffers now (SSL_free_buffers frees only
     * unused ones; RELEASE_BUFFERS alone keeps the read buffer the handshake used). */
    if (!c->closing && !SSL_has_pending(x->ssl))
        (void)SSL_free_buffers(x->ssl);
    if (x->wire_len)
        conn_mark_dirty(c);
}

int tls_start(conn_t *c)
{
    conn_x_t *x = conn_x(c);
    tls_ctx_t *t = x->x->o.tls;
    ERR_clear_error();
    x->ssl = SSL_new(t->ctx);
    BIO *b = x->ssl ? BIO_new(bio_method()) : NULL;
    if (!b) {
        ERR_clear_error();
        return UV_ENOMEM;
    }
    BIO_set_data(b, x);
    BIO_set_init(b, 1);
    SSL_set_bio(x->ssl, b, b); /* one reference, taken by the SSL */
    if (!x->x->o.client) {
        SSL_set_accept_state(x->ssl);
        return 0;
    }
    SSL_set_connect_state(x->ssl);
    const char *name = x->x->server_name;
    if (name && *name) {
        struct sockaddr_storage ss;
        int is_ip = uv_ip4_addr(name, 0, (struct sockaddr_in *)&ss) == 0 ||
                    uv_ip6_addr(name, 0, (struct sockaddr_in6 *)&ss) == 0;
        if (!is_ip)
            SSL_set_tlsext_host_name(x->ssl, name);
        if (SSL_CTX_get_verify_mode(t->ctx) & SSL_VERIFY_PEER)
            SSL_set1_host(x->ssl, name);
    }
    tls_drive(c); /* the ClientHello */
    return 0;
}

void tls_on_wire(conn_t *c, const uint8_t *data, size_t n)
{
    conn_x_t *x = conn_x(c);
    if (!x->got_first) {
        x->got_first = 1;
        x->first_byte = data[0];
    }
    x->in = data;
    x->in_len = n;
    tls_drive(c);
    x->in = NULL;
    x->in_len = 0;
}

void tls_flush(conn_t *c)
{
    conn_x_t *x = conn_x(c);
    if (c->closing)
        return;
    if (x->tls_done && c->out_len) {
        ERR_clear_error();
        int r = SSL_write(x->ssl, c->out, (int)c->out_len);
        if (r <= 0) {
            ERR_clear_error();
            conn_close(c, CONN_CLOSE_IO);
            return;
        }
        conn_out_sent(c);
    }
    if (!x->tls_done && c->flush_then_close)
        c->out_len = 0; /* last words for a peer that never finished its handshake */
    if (c->flush_then_close && x->tls_done && !x->tls_bye && c->out_len == 0) {
        x->tls_bye = 1;
        (void)SSL_shutdown(x->ssl); /* queues our close_notify */
        ERR_clear_error();
    }
    if (x->wire_len) {
        uint8_t *buf = x->wire;
        size_t len = x->wire_len;
        x->wire = NULL;
        x->wire_len = x->wire_cap = 0;
        (void)conn_wire_send(c, buf, len, 1);
    }
}

void tls_release(conn_t *c)
{
    conn_x_t *x = conn_x(c);
    SSL_free(x->ssl);
    x->ssl = NULL;
    xfree(x->wire);
    x->wire = NULL;
}
