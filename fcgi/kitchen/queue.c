/*
 * "queue": the due list (lib/due.h) of tickets that still need a cook or
 * are being prepared (kitchen.h): due now while waiting, at the lease's end
 * while a cook holds the ticket.  Cooks read what is due from the store's
 * index, so an idle kitchen costs FerretDB nothing.  A cook picks one entry due,
 * reads its ticket and puts the entry off a moment, in one round trip
 * (queue_pick): the other cooks pass it by while this one starts it (the start
 * then moves it to the lease's end), where a list read first and tried one by
 * one had cooks reading, and dropping again, tickets another had made ready
 * since the list was read (0.8 of each a payment), and a pick without the
 * moment had two cooks racing for one start.  An entry is only a hint: the
 * ticket (its status and its lease) decides, so an entry left behind costs one
 * read of its ticket and is dropped, and one whose cook went away before its
 * start comes up again after the moment.
 */
#include "due.h"
#include "kitchen.h"
#include "log.h"

#define QUEUE "queue"

enum gl_err
queue_add(const bson_oid_t *id, int64_t due)
{
	enum gl_err err = gl_due_add(QUEUE, id, due);

	return err == GL_E_CONFLICT ? GL_OK : err;
}

int
queue_index(struct gl_kept_index *e, const bson_oid_t *id, int64_t due)
{
	return gl_due_index(e, QUEUE, id, due);
}

void
queue_defer(const bson_oid_t *id, int64_t due)
{
	if (gl_due_move(QUEUE, id, due) != GL_OK)
		gl_log(GL_LOG_WARN, NULL, "a queue entry stays due: cooks will look at it again");
}

void
queue_drop(const bson_oid_t *id)
{
	gl_due_drop(QUEUE, id);
}

void
queue_drop_riding(const bson_oid_t *id)
{
	gl_due_drop_riding(QUEUE, id);
}

void
queue_defer_riding(const bson_oid_t *id, int64_t due)
{
	gl_due_move_riding(QUEUE, id, due);
}

void
queue_riding_end(bool apply)
{
	gl_due_riding_end(apply);
}

enum gl_err
queue_pick(size_t max, bool *listed, bson_oid_t *id, json_t **ticket)
{
	return gl_due_pick(QUEUE, "tickets", max, KITCHEN_PICK_HOLD_S, listed, id, ticket);
}
