// The reference design (docs: /work/shared/seed/README.md), rebuilt only as a benchmark baseline:
// Express + socket.io + mongoose with the same data flow and the same flaws. Not shipped.
//
// Differences from the original, all for the load tool: the JWT comes back in the JSON body as
// `token` and is read from `Authorization: Bearer` (no cookies); PORT, MONGODB_URI, MONGODB_NAME
// and JWT_SECRET come from the environment.
//
// REFERENCE_MEMORY=1 keeps everything in Maps (no database): the socket-layer ceiling.
// REFERENCE_PRESENCE=0 turns off the `getOnlineUsers` broadcast, so the benchmark can hold
// thousands of sockets without the O(N^2) presence storm (used only where a scenario says so).
// REFERENCE_SEED=<file.json> (memory mode): users to preload, [{_id, username, ...}].
"use strict";

const fs = require("fs");
const http = require("http");
const express = require("express");
const bcrypt = require("bcryptjs");
const jwt = require("jsonwebtoken");
const mongoose = require("mongoose");
const { Server } = require("socket.io");

const PORT = Number(process.env.PORT || 5000);
const MEMORY = process.env.REFERENCE_MEMORY === "1";
const PRESENCE = process.env.REFERENCE_PRESENCE !== "0";
const JWT_SECRET = process.env.JWT_SECRET || "reference-bench-secret-0123456789abcdefghij";

// --- models (as in the reference) ----------------------------------------------------------
const userSchema = new mongoose.Schema(
  {
    fullName: { type: String, required: true },
    username: { type: String, required: true, unique: true },
    password: { type: String, required: true, minlength: 6 },
    gender: { type: String, required: true, enum: ["male", "female"] },
    profilePic: { type: String, default: "" },
  },
  { timestamps: true }
);
const conversationSchema = new mongoose.Schema(
  {
    participants: [{ type: mongoose.Schema.Types.ObjectId, ref: "User" }],
    messages: [{ type: mongoose.Schema.Types.ObjectId, ref: "Message", default: [] }],
  },
  { timestamps: true }
);
const messageSchema = new mongoose.Schema(
  {
    senderId: { type: mongoose.Schema.Types.ObjectId, ref: "User", required: true },
    receiverId: { type: mongoose.Schema.Types.ObjectId, ref: "User", required: true },
    message: { type: String, required: true },
  },
  { timestamps: true }
);
const User = mongoose.model("User", userSchema);
const Conversation = mongoose.model("Conversation", conversationSchema);
const Message = mongoose.model("Message", messageSchema);

// --- in-memory store (REFERENCE_MEMORY=1) ----------------------------------------------------
const mem = { users: new Map(), byName: new Map(), conversations: new Map(), messages: new Map() };
const newId = () => new mongoose.Types.ObjectId().toString();
const pairKey = (a, b) => [String(a), String(b)].sort().join(":");
if (MEMORY && process.env.REFERENCE_SEED) {
  for (const user of JSON.parse(fs.readFileSync(process.env.REFERENCE_SEED, "utf8"))) {
    mem.users.set(user._id, user);
    mem.byName.set(user.username, user);
  }
}

const store = {
  async userById(id) {
    if (MEMORY) return mem.users.get(String(id)) || null;
    return User.findById(id).select("-password");
  },
  async userByName(username) {
    if (MEMORY) return mem.byName.get(username) || null;
    return User.findOne({ username });
  },
  async userCreate(fields) {
    if (MEMORY) {
      const now = new Date();
      const user = { _id: newId(), ...fields, createdAt: now, updatedAt: now };
      mem.users.set(user._id, user);
      mem.byName.set(user.username, user);
      return user;
    }
    const user = new User(fields);
    await user.save();
    return user;
  },
  async usersExcept(id) {
    if (MEMORY) {
      return [...mem.users.values()]
        .filter((u) => u._id !== String(id))
        .map(({ password, ...rest }) => rest);
    }
    return User.find({ _id: { $ne: id } }).select("-password");
  },
  async send(senderId, receiverId, text) {
    if (MEMORY) {
      const key = pairKey(senderId, receiverId);
      let conversation = mem.conversations.get(key);
      if (!conversation) {
        conversation = { _id: newId(), participants: [senderId, receiverId], messages: [] };
        mem.conversations.set(key, conversation);
      }
      const now = new Date();
      const message = {
        _id: newId(), senderId: String(senderId), receiverId: String(receiverId),
        message: text, createdAt: now, updatedAt: now,
      };
      conversation.messages.push(message._id);
      mem.messages.set(message._id, message);
      return message;
    }
    // The reference's sendMessage, step for step.
    let conversation = await Conversation.findOne({
      participants: { $all: [senderId, receiverId] },
    });
    if (!conversation) {
      conversation = await Conversation.create({ participants: [senderId, receiverId] });
    }
    const newMessage = new Message({ senderId, receiverId, message: text });
    if (newMessage) conversation.messages.push(newMessage._id);
    await Promise.all([conversation.save(), newMessage.save()]);
    return newMessage;
  },
  async history(userId, otherId) {
    if (MEMORY) {
      const conversation = mem.conversations.get(pairKey(userId, otherId));
      return conversation ? conversation.messages.map((id) => mem.messages.get(id)) : [];
    }
    const conversation = await Conversation.findOne({
      participants: { $all: [userId, otherId] },
    }).populate("messages");
    return conversation ? conversation.messages : [];
  },
};

// --- HTTP ------------------------------------------------------------------------------------
const app = express();
app.use(express.json());
const server = http.createServer(app);
const io = new Server(server, { cors: { origin: ["http://localhost:3000"], methods: ["GET", "POST"] } });

const issue = (userId) => jwt.sign({ userId: String(userId) }, JWT_SECRET, { expiresIn: "15d" });
const publicUser = (u) => ({ _id: u._id, fullName: u.fullName, username: u.username, profilePic: u.profilePic });

// protectRoute: verify the token, then look the user up in the database on every request.
async function protectRoute(req, res, next) {
  try {
    const header = req.headers.authorization || "";
    const token = header.startsWith("Bearer ") ? header.slice(7) : null;
    if (!token) return res.status(401).json({ error: "Unauthorized - No Token Provided" });
    const decoded = jwt.verify(token, JWT_SECRET);
    if (!decoded) return res.status(401).json({ error: "Unauthorized - Invalid Token" });
    const user = await store.userById(decoded.userId);
    if (!user) return res.status(404).json({ error: "User not found" });
    req.user = user;
    next();
  } catch (error) {
    res.status(500).json({ error: "Internal server error" }); // flaw 8: bad tokens → 500
  }
}

app.post("/api/auth/signup", async (req, res) => {
  try {
    const { fullName, username, password, confirmPassword, gender } = req.body;
    if (password !== confirmPassword) return res.status(400).json({ error: "Passwords don't match" });
    if (await store.userByName(username)) return res.status(400).json({ error: "Username already exists" });
    const salt = await bcrypt.genSalt(10);
    const hashedPassword = await bcrypt.hash(password, salt);
    const profilePic = `https://avatar.iran.liara.run/public/${gender === "male" ? "boy" : "girl"}?username=${username}`;
    const user = await store.userCreate({ fullName, username, password: hashedPassword, gender, profilePic });
    res.status(201).json({ ...publicUser(user), token: issue(user._id) });
  } catch (error) {
    res.status(500).json({ error: "Internal Server Error" });
  }
});

app.post("/api/auth/login", async (req, res) => {
  try {
    const { username, password } = req.body;
    const user = await store.userByName(username);
    const ok = await bcrypt.compare(password || "", (user && user.password) || "");
    if (!user || !ok) return res.status(400).json({ error: "Invalid username or password" });
    res.status(200).json({ ...publicUser(user), token: issue(user._id) });
  } catch (error) {
    res.status(500).json({ error: "Internal Server Error" });
  }
});

app.post("/api/auth/logout", (req, res) => res.status(200).json({ message: "Logged out successfully" }));

app.get("/api/users", protectRoute, async (req, res) => {
  try {
    res.status(200).json(await store.usersExcept(req.user._id));
  } catch (error) {
    res.status(500).json({ error: "Internal server error" });
  }
});

app.get("/api/messages/:id", protectRoute, async (req, res) => {
  try {
    res.status(200).json(await store.history(req.user._id, req.params.id));
  } catch (error) {
    res.status(500).json({ error: "Internal server error" });
  }
});

app.post("/api/messages/send/:id", protectRoute, async (req, res) => {
  try {
    const newMessage = await store.send(req.user._id, req.params.id, req.body.message);
    const receiverSocketId = userSocketMap[req.params.id];
    if (receiverSocketId) io.to(receiverSocketId).emit("newMessage", newMessage);
    res.status(201).json(newMessage);
  } catch (error) {
    res.status(500).json({ error: "Internal server error" });
  }
});

app.get("/healthz", (req, res) => res.json({ ok: true }));

// --- Socket.IO (flaws 1, 2 and 7 kept on purpose) -------------------------------------------
const userSocketMap = {}; // {userId: socketId}
io.on("connection", (socket) => {
  const userId = socket.handshake.query.userId;
  if (userId != "undefined") userSocketMap[userId] = socket.id;
  if (PRESENCE) io.emit("getOnlineUsers", Object.keys(userSocketMap));
  socket.on("disconnect", () => {
    delete userSocketMap[userId];
    if (PRESENCE) io.emit("getOnlineUsers", Object.keys(userSocketMap));
  });
});

async function main() {
  if (!MEMORY) {
    const uri = process.env.MONGODB_URI || "mongodb://127.0.0.1:27017/?directConnection=true";
    await mongoose.connect(uri, { dbName: process.env.MONGODB_NAME || "bench_reference" });
    await User.init(); // the unique index on username, before the first signup
  }
  server.listen(PORT, "127.0.0.1", () => console.log(`reference server (${MEMORY ? "memory" : "mongodb"}) on ${PORT}`));
}

for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    io.close();
    server.close();
    mongoose.disconnect().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
main().catch((error) => {
  console.error(error);
  process.exit(1);
});
