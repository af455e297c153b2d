/* yaml.c - YAML document tree over libyaml's event parser. */
#include "base/yaml.h"

#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "base/alloc.h"

#define YAML_MAX_DEPTH 32
#define YAML_MAX_NODES 100000

typedef struct yctx {
    yaml_parser_t p;
    const char *what;
    size_t nodes;
    mc2_err *err;
} yctx;

void mc2_yaml_free(mc2_ynode *n)
{
    if (!n) return;
    for (size_t i = 0; i < n->nkids; i++) mc2_yaml_free(n->kids[i]);
    mc2_free(n->kids);
    mc2_free(n->text);
    mc2_free(n);
}

static int perr(yctx *c, unsigned long line, unsigned long col, const char *msg)
{
    return mc2_err_set(c->err, MC2_E_INPUT, "%s line %lu column %lu: %s", c->what, line, col, msg);
}

static mc2_ynode *new_node(yctx *c, enum mc2_ykind k, const yaml_event_t *ev)
{
    if (++c->nodes > YAML_MAX_NODES) {
        perr(c, ev->start_mark.line + 1, ev->start_mark.column + 1, "document has too many nodes");
        return NULL;
    }
    mc2_ynode *n = mc2_calloc(1, sizeof *n);
    if (!n) {
        mc2_err_set(c->err, MC2_E_NOMEM, "out of memory");
        return NULL;
    }
    n->kind = k;
    n->line = ev->start_mark.line + 1;
    n->col = ev->start_mark.column + 1;
    return n;
}

static int add_kid(yctx *c, mc2_ynode *parent, mc2_ynode *kid)
{
    mc2_ynode **k = mc2_realloc(parent->kids, (parent->nkids + 1) * sizeof *k);
    if (!k) return mc2_err_set(c->err, MC2_E_NOMEM, "out of memory");
    parent->kids = k;
    parent->kids[parent->nkids++] = kid;
    return 0;
}

static int next_event(yctx *c, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&c->p, ev)) {
        const char *prob = c->p.problem ? c->p.problem : "invalid YAML";
        return mc2_err_set(c->err, MC2_E_INPUT, "%s line %lu column %lu: not valid YAML: %s",
                           c->what, (unsigned long)c->p.problem_mark.line + 1,
                           (unsigned long)c->p.problem_mark.column + 1, prob);
    }
    return 0;
}

/* Parses the node that starts with *ev (already read); consumes *ev. */
static mc2_ynode *parse_node(yctx *c, yaml_event_t *ev, int depth)
{
    mc2_ynode *n = NULL;
    if (depth > YAML_MAX_DEPTH) {
        perr(c, ev->start_mark.line + 1, ev->start_mark.column + 1, "nesting is too deep");
        yaml_event_delete(ev);
        return NULL;
    }
    switch (ev->type) {
    case YAML_ALIAS_EVENT:
        perr(c, ev->start_mark.line + 1, ev->start_mark.column + 1,
             "aliases are not supported; write the value out");
        yaml_event_delete(ev);
        return NULL;
    case YAML_SCALAR_EVENT:
        if (ev->data.scalar.anchor) goto anchor;
        n = new_node(c, MC2_Y_SCALAR, ev);
        if (!n) break;
        n->len = ev->data.scalar.length;
        n->text = mc2_malloc(n->len + 1);
        if (!n->text) {
            mc2_err_set(c->err, MC2_E_NOMEM, "out of memory");
            mc2_yaml_free(n);
            n = NULL;
            break;
        }
        memcpy(n->text, ev->data.scalar.value, n->len);
        n->text[n->len] = '\0';
        n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
        break;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        int is_map = ev->type == YAML_MAPPING_START_EVENT;
        if ((is_map && ev->data.mapping_start.anchor) ||
            (!is_map && ev->data.sequence_start.anchor))
            goto anchor;
        n = new_node(c, is_map ? MC2_Y_MAP : MC2_Y_SEQ, ev);
        yaml_event_delete(ev);
        if (!n) return NULL;
        for (;;) {
            yaml_event_t e2;
            if (next_event(c, &e2)) goto fail;
            if (e2.type == YAML_SEQUENCE_END_EVENT || e2.type == YAML_MAPPING_END_EVENT) {
                yaml_event_delete(&e2);
                break;
            }
            mc2_ynode *k = parse_node(c, &e2, depth + 1);
            if (!k) goto fail;
            if (add_kid(c, n, k)) {
                mc2_yaml_free(k);
                goto fail;
            }
            if (is_map && n->nkids % 2 == 1) {
                if (k->kind != MC2_Y_SCALAR) {
                    perr(c, k->line, k->col, "map keys must be plain scalars");
                    goto fail;
                }
                for (size_t i = 0; i + 1 < n->nkids; i += 2)
                    if (strcmp(n->kids[i]->text, k->text) == 0) {
                        char msg[160];
                        snprintf(msg, sizeof msg, "duplicate key '%.100s'", k->text);
                        perr(c, k->line, k->col, msg);
                        goto fail;
                    }
            }
        }
        return n;
    fail:
        mc2_yaml_free(n);
        return NULL;
    }
    default:
        perr(c, ev->start_mark.line + 1, ev->start_mark.column + 1, "unexpected YAML event");
        break;
    }
    yaml_event_delete(ev);
    return n;
anchor:
    perr(c, ev->start_mark.line + 1, ev->start_mark.column + 1,
         "anchors are not supported; write the value out");
    yaml_event_delete(ev);
    return NULL;
}

mc2_ynode *mc2_yaml_parse(const char *what, const char *text, size_t len, mc2_err *err)
{
    yctx c = {.what = what, .err = err};
    mc2_ynode *root = NULL;
    if (!yaml_parser_initialize(&c.p)) {
        mc2_err_set(err, MC2_E_NOMEM, "out of memory");
        return NULL;
    }
    yaml_parser_set_input_string(&c.p, (const unsigned char *)text, len);
    yaml_event_t ev;
    for (;;) {
        if (next_event(&c, &ev)) goto fail;
        switch (ev.type) {
        case YAML_STREAM_START_EVENT:
        case YAML_DOCUMENT_END_EVENT:
            yaml_event_delete(&ev);
            continue;
        case YAML_DOCUMENT_START_EVENT:
            yaml_event_delete(&ev);
            if (root) {
                perr(&c, c.p.mark.line + 1, c.p.mark.column + 1, "expected a single YAML document");
                goto fail;
            }
            continue;
        case YAML_STREAM_END_EVENT:
            yaml_event_delete(&ev);
            goto done;
        default:
            if (root) {
                yaml_event_delete(&ev);
                perr(&c, c.p.mark.line + 1, c.p.mark.column + 1, "expected a single YAML document");
                goto fail;
            }
            root = parse_node(&c, &ev, 0);
            if (!root) goto fail;
        }
    }
done:
    yaml_parser_delete(&c.p);
    if (!root) {
        root = mc2_calloc(1, sizeof *root);
        if (!root) {
            mc2_err_set(err, MC2_E_NOMEM, "out of memory");
            return NULL;
        }
        root->kind = MC2_Y_MAP;
        root->line = root->col = 1;
    }
    return root;
fail:
    mc2_yaml_free(root);
    yaml_parser_delete(&c.p);
    return NULL;
}

const mc2_ynode *mc2_yaml_get(const mc2_ynode *map, const char *key)
{
    if (!map || map->kind != MC2_Y_MAP) return NULL;
    for (size_t i = 0; i + 1 < map->nkids; i += 2)
        if (strcmp(map->kids[i]->text, key) == 0) return map->kids[i + 1];
    return NULL;
}
