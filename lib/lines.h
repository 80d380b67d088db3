/*
 * lines: an order's lines, one table for every copy of them: the order's
 * own (orders), its payment's (payments, from the order) and its kitchen
 * ticket's (kitchen, from order.paid).
 *
 * gl_lines_fields is one line, {item_id, name, qty, price_cents,
 * supplier_id}.  It checks the lines another service sends (the order that
 * payments reads, order.paid's lines that the kitchen and reports follow:
 * the table is GL_OPEN, what else a line carries is let be), and
 * gl_lines_append() builds every copy from it: the order keeps the whole
 * line, a payment and a ticket what a cook needs (item_id, name, qty).
 *
 * Ownership: the table is static; lines are borrowed.
 */
#ifndef GL_LINES_H
#define GL_LINES_H

#include <bson/bson.h>
#include <jansson.h>
#include <stdbool.h>

#include "valid.h"

#define GL_LINES_MAX       100      /* lines of an order */
#define GL_LINES_QTY_MAX   1000     /* units of one line */
#define GL_LINES_NAME_MAX  200      /* characters of a line's name (the menu's are 120 at most) */
#define GL_LINES_PRICE_MAX 10000000 /* cents of one unit, as the menu allows */

extern const struct gl_field gl_lines_fields[];

/* A field table's row for an order's lines, 1..GL_LINES_MAX of them, required: e.g.
 * { GL_LINES_FIELD, { .flags = GL_OPEN } }. */
#define GL_LINES_FIELD                                                                             \
	{                                                                                          \
		"lines", GL_T_OBJECTS, GL_REQUIRED, 1, GL_LINES_MAX, .fields = gl_lines_fields     \
	}

/*
 * Append lines (borrowed: an array valid against gl_lines_fields) to doc as
 * "lines", each line's fields in the table's order and types: all of them
 * when priced (the order's copy), else item_id, name and qty (a payment's,
 * a ticket's).  false when doc could not take them.
 */
bool gl_lines_append(bson_t *doc, const json_t *lines, bool priced)
        __attribute__((warn_unused_result));

#endif
