// Initiates galley's MongoDB replica set once, then waits until it has a primary; run again, it
// initiates nothing (docker/compose.yaml's mongo-init, docker/k8s/data.yaml's Job mongo-init):
//   mongosh --nodb --quiet --file mongo-rs-init.js
// with, in its environment:
//   RS_NAME     the set's name, as every mongod's --replSet (default rs0)
//   RS_MEMBERS  its members, host:port,... as galley's GALLEY_MONGO_URI names them
//   RS_WAIT_S   how long to wait for the members and then for a primary (default 300)
// It initiates only when every member answers and none is in a set yet, and then on the first
// member only: never a second set beside one that exists (a member it cannot reach may hold
// it). The other members must be empty (replSetInitiate's rule); the first may hold data
// (a standalone mongod restarted with --replSet keeps its data this way).
// Exit 0 once a member reports a PRIMARY of RS_NAME; 1 when RS_WAIT_S passes first, or when a
// member is in another set; 2 when RS_MEMBERS is empty.
const NOT_YET_INITIALIZED = 94;
const ALREADY_INITIALIZED = 23;
const name = process.env.RS_NAME || "rs0";
const members = (process.env.RS_MEMBERS || "").split(",").map((s) => s.trim()).filter((s) => s);
const deadline = Date.now() + 1000 * Number(process.env.RS_WAIT_S || 300);

// One command to one member alone (directConnection), on a connection of its own, closed after.
function command(host, cmd) {
	const conn = new Mongo("mongodb://" + host + "/?directConnection=true&serverSelectionTimeoutMS=3000&connectTimeoutMS=3000");
	try {
		return conn.getDB("admin").runCommand(cmd);
	} finally {
		conn.close();
	}
}

// What one member says: {state: "new"} (in no set yet), {state: "set", status} (its
// replSetGetStatus) or {state: "down", why}.
function ask(host) {
	try {
		const st = command(host, { replSetGetStatus: 1 });
		if (st.ok) return { state: "set", status: st };
		if (st.code === NOT_YET_INITIALIZED) return { state: "new" };
		return { state: "down", why: st.errmsg };
	} catch (e) {
		if (e.code === NOT_YET_INITIALIZED) return { state: "new" };
		return { state: "down", why: String(e.message || e) };
	}
}

function initiate() {
	const config = { _id: name, members: members.map((host, i) => ({ _id: i, host: host })) };
	try {
		const res = command(members[0], { replSetInitiate: config });
		print("replSetInitiate on " + members[0] + ": " + JSON.stringify(res));
		return res.ok === 1 || res.code === ALREADY_INITIALIZED;
	} catch (e) {
		print("replSetInitiate on " + members[0] + ": " + String(e.message || e));
		return e.code === ALREADY_INITIALIZED;
	}
}

if (members.length === 0) {
	print("RS_MEMBERS is empty: want host:port,host:port,host:port");
	quit(2);
}
let initiated = false;
for (;;) {
	const seen = members.map((host) => [host, ask(host)]);
	for (const [host, r] of seen) {
		if (r.state !== "set") continue;
		if (r.status.set !== name) {
			print(host + " is in the replica set " + r.status.set + ", not " + name);
			quit(1);
		}
		const primary = (r.status.members || []).find((m) => m.stateStr === "PRIMARY");
		if (primary) {
			print(name + ": primary " + primary.name + (initiated ? ", initiated now" : ", initiated before"));
			quit(0);
		}
	}
	if (!initiated && seen.every(([, r]) => r.state === "new")) initiated = initiate();
	if (Date.now() > deadline) {
		print(name + ": no primary in time: " + seen.map(([host, r]) => host + " " + r.state + (r.why ? " (" + r.why + ")" : "")).join(", "));
		quit(1);
	}
	sleep(2000);
}
