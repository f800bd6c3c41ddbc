// The demo chat page: plain JavaScript over the REST API and Socket.IO.
// User text is only ever put into the page with textContent, never as HTML.
(function () {
  "use strict";

  const PAGE = 30;
  const $ = (id) => document.getElementById(id);
  const state = {
    me: null,
    access: localStorage.getItem("chat.access"),
    refresh: localStorage.getItem("chat.refresh"),
    users: new Map(), // userId -> user
    conversations: new Map(), // conversationId -> {_id, peerId, lastMessage, unreadCount, lastSeq, readSeqs}
    byPeer: new Map(), // userId -> conversationId
    online: new Set(),
    activePeer: null,
    messages: new Map(), // conversationId -> Map(seq -> message)
    hasOlder: new Map(), // conversationId -> bool
    loadingOlder: false,
    syncCursor: null,
    socket: null,
    typingTimers: new Map(),
    typingSent: 0,
    stopTypingTimer: null,
  };

  // ---- REST ------------------------------------------------------------------------------

  async function api(path, { method = "GET", body, retry = true } = {}) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (state.access) headers.Authorization = "Bearer " + state.access;
    const response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
    const data = response.status === 204 ? null : await response.json().catch(() => null);
    if (response.status === 401 && retry && state.refresh && (await refreshTokens())) {
      return api(path, { method, body, retry: false });
    }
    if (!response.ok) {
      const error = new Error((data && data.error) || response.statusText);
      error.status = response.status;
      error.data = data;
      throw error;
    }
    return { data, response };
  }

  let refreshing = null;
  function refreshTokens() {
    if (!refreshing) {
      refreshing = fetch("/api/auth/refresh", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh: state.refresh }),
      })
        .then(async (r) => {
          if (!r.ok) return false;
          const tokens = await r.json();
          saveTokens(tokens.access, tokens.refresh);
          return true;
        })
        .catch(() => false)
        .finally(() => setTimeout(() => (refreshing = null), 0));
    }
    return refreshing;
  }

  function saveTokens(access, refresh) {
    state.access = access;
    state.refresh = refresh;
    localStorage.setItem("chat.access", access);
    localStorage.setItem("chat.refresh", refresh);
  }

  function clearTokens() {
    state.access = state.refresh = null;
    localStorage.removeItem("chat.access");
    localStorage.removeItem("chat.refresh");
  }

  function formError(error) {
    const data = error.data || {};
    if (data.fields) {
      return Object.entries(data.fields)
        .map(([field, messages]) => field + ": " + messages.join(" "))
        .join("\n");
    }
    return data.error || error.message;
  }

  // ---- log in / sign up -----------------------------------------------------------------

  function showAuth() {
    $("app").hidden = true;
    $("auth").hidden = false;
  }

  function switchAuth(toSignup) {
    $("login-form").hidden = toSignup;
    $("signup-form").hidden = !toSignup;
    $("show-login").classList.toggle("active", !toSignup);
    $("show-signup").classList.toggle("active", toSignup);
    $("auth-error").textContent = "";
  }

  async function submitAuth(event, path) {
    event.preventDefault();
    const body = Object.fromEntries(new FormData(event.target).entries());
    $("auth-error").textContent = "";
    try {
      const { data } = await api(path, { method: "POST", body, retry: false });
      saveTokens(data.access, data.refresh);
      await startChat();
    } catch (error) {
      $("auth-error").textContent = formError(error);
    }
  }

  async function logout() {
    try {
      await api("/api/auth/logout", { method: "POST", body: { refresh: state.refresh }, retry: false });
    } catch (_) {
      /* already logged out */
    }
    if (state.socket) state.socket.disconnect();
    clearTokens();
    location.reload();
  }

  // ---- start -----------------------------------------------------------------------------

  async function startChat() {
    const { data: me } = await api("/api/auth/me");
    state.me = me;
    $("auth").hidden = true;
    $("app").hidden = false;
    $("me-name").textContent = me.fullName || me.username;
    $("me-avatar").src = me.profilePic;
    const [{ data: users }, { data: list }] = await Promise.all([
      api("/api/users"),
      api("/api/conversations"),
    ]);
    users.forEach((u) => state.users.set(u._id, u));
    list.conversations.forEach(rememberConversation);
    state.syncCursor = list.syncCursor;
    renderContacts();
    connectSocket();
  }

  function rememberConversation(c) {
    const peer = c.participants[0];
    if (peer) {
      state.users.set(peer._id, state.users.get(peer._id) || peer);
    }
    const known = state.conversations.get(c._id) || {};
    const entry = {
      _id: c._id,
      peerId: peer ? peer._id : null,
      lastMessage: c.lastMessage,
      lastSeq: c.lastSeq,
      unreadCount: c.unreadCount,
      readSeqs: Object.assign({}, known.readSeqs || {}, c.readSeqs || {}),
    };
    state.conversations.set(c._id, entry);
    if (entry.peerId) state.byPeer.set(entry.peerId, c._id);
  }

  // ---- socket ----------------------------------------------------------------------------

  // The server tells a user's contacts when they come and go; the sidebar also lists people
  // we have not talked to yet, so ask to hear about them too (and who is online right now).
  function watchPresence() {
    const ids = [...state.users.keys()].filter((id) => id !== state.me._id).slice(0, 500);
    state.socket.emit("watchPresence", { userIds: ids }, (answer) => {
      if (!answer || !answer.ok) return;
      answer.online.forEach((id) => state.online.add(id));
      renderContacts();
    });
  }

  function connectSocket() {
    // `auth` as a function: every (re)connection sends the current access token.
    const socket = io({ auth: (cb) => cb({ token: state.access }), transports: ["websocket", "polling"] });
    state.socket = socket;
    let connectedOnce = false;

    socket.on("connect", () => {
      $("banner").hidden = true;
      watchPresence();
      if (connectedOnce) catchUp();
      connectedOnce = true;
    });
    socket.on("disconnect", (reason) => {
      $("banner").hidden = false;
      if (reason === "io server disconnect") {
        // The server closed the socket (session check): reconnect with a refreshed token.
        refreshTokens().then((ok) => (ok ? socket.connect() : showAuth()));
      }
    });
    socket.on("connect_error", async (error) => {
      $("banner").hidden = false;
      if (error.message === "token_expired" || error.message === "unauthorized") {
        if (await refreshTokens()) socket.connect();
        else showAuth();
      }
    });
    socket.on("getOnlineUsers", (ids) => {
      state.online = new Set(ids);
      renderContacts();
    });
    socket.on("userOnline", ({ userId }) => {
      state.online.add(userId);
      renderContacts();
    });
    socket.on("userOffline", ({ userId }) => {
      state.online.delete(userId);
      renderContacts();
    });
    socket.on("newMessage", (message) => receiveMessage(message, true));
    socket.on("messageHidden", ({ message }) => receiveMessage(message, false));
    socket.on("messagesRead", ({ conversationId, userId, seq }) => {
      const c = state.conversations.get(conversationId);
      if (!c) return;
      c.readSeqs[userId] = Math.max(c.readSeqs[userId] || 0, seq);
      if (userId === state.me._id) c.unreadCount = Math.max(0, c.lastSeq - seq);
      renderContacts();
      if (isActive(conversationId)) renderMessages(false);
    });
    socket.on("typing", ({ conversationId, userId, isTyping }) => showTyping(conversationId, userId, isTyping));
    socket.on("sessionEnded", ({ reason }) => {
      if (reason === "deactivated") {
        clearTokens();
        showAuth();
        $("auth-error").textContent = "Your account was deactivated.";
      }
    });
  }

  async function catchUp() {
    // Everything missed while disconnected, in order, without duplicates.
    let more = true;
    while (more && state.syncCursor) {
      try {
        const { data } = await api("/api/sync?since=" + encodeURIComponent(state.syncCursor));
        data.messages.forEach((m) => receiveMessage(m, false));
        data.reads.forEach((r) => {
          const c = state.conversations.get(r.conversationId);
          if (c) c.readSeqs[r.userId] = Math.max(c.readSeqs[r.userId] || 0, r.seq);
        });
        state.syncCursor = data.cursor;
        more = data.hasMore;
      } catch (error) {
        if (error.status === 410) return reloadConversations();
        return;
      }
    }
    renderContacts();
  }

  async function reloadConversations() {
    const { data } = await api("/api/conversations");
    data.conversations.forEach(rememberConversation);
    state.syncCursor = data.syncCursor;
    renderContacts();
  }

  // ---- messages --------------------------------------------------------------------------

  function isActive(conversationId) {
    return state.activePeer && state.byPeer.get(state.activePeer) === conversationId;
  }

  function peerOf(message) {
    return message.senderId === state.me._id ? message.receiverId : message.senderId;
  }

  function receiveMessage(message, live) {
    const peerId = peerOf(message);
    let c = state.conversations.get(message.conversationId);
    if (!c) {
      c = { _id: message.conversationId, peerId, lastMessage: null, lastSeq: 0, unreadCount: 0, readSeqs: {} };
      state.conversations.set(c._id, c);
      state.byPeer.set(peerId, c._id);
      if (!state.users.has(peerId)) {
        api("/api/users").then(({ data }) => {
          data.forEach((u) => state.users.set(u._id, u));
          renderContacts();
          watchPresence();
        });
      } else {
        watchPresence(); // a new contact: the server now shares their presence with us
      }
    }
    const store = messagesOf(c._id);
    const isNew = !store.has(message.seq);
    store.set(message.seq, message);
    if (!c.lastMessage || message.seq >= c.lastMessage.seq) c.lastMessage = message;
    if (message.seq > c.lastSeq) {
      c.lastSeq = message.seq;
      if (message.senderId !== state.me._id && isNew) c.unreadCount += 1;
    }
    const mine = message.senderId === state.me._id;
    if (mine) c.readSeqs[state.me._id] = Math.max(c.readSeqs[state.me._id] || 0, message.seq);
    if (isActive(c._id)) {
      renderMessages(true);
      if (!mine && isNew) markRead(c);
      if (live && !mine && isNew) {
        notify();
        shake(document.querySelector('[data-seq="' + message.seq + '"]'));
      }
    } else if (live && !mine && isNew) {
      notify();
    }
    renderContacts();
    if (live && !mine && isNew && !isActive(c._id)) shake(document.querySelector('[data-peer="' + peerId + '"]'));
  }

  function messagesOf(conversationId) {
    if (!state.messages.has(conversationId)) state.messages.set(conversationId, new Map());
    return state.messages.get(conversationId);
  }

  function notify() {
    const sound = $("notify-sound");
    sound.currentTime = 0;
    sound.play().catch(() => {});
  }

  function shake(element) {
    if (!element) return;
    element.classList.remove("shake");
    void element.offsetWidth; // restart the animation
    element.classList.add("shake");
  }

  async function openPeer(peerId) {
    state.activePeer = peerId;
    const peer = state.users.get(peerId);
    $("conversation").classList.remove("empty");
    $("app").classList.add("chatting");
    $("peer-name").textContent = peer ? peer.fullName || peer.username : "";
    $("peer-avatar").src = peer ? peer.profilePic : "";
    $("typing").hidden = true;
    renderContacts();
    const { data, response } = await api("/api/messages/" + encodeURIComponent(peerId) + "?limit=" + PAGE);
    if (state.activePeer !== peerId) return;
    if (data.length) {
      const conversationId = data[0].conversationId;
      if (!state.conversations.has(conversationId)) {
        state.conversations.set(conversationId, { _id: conversationId, peerId, lastMessage: data[data.length - 1], lastSeq: data[data.length - 1].seq, unreadCount: 0, readSeqs: {} });
      }
      state.byPeer.set(peerId, conversationId);
      const store = messagesOf(conversationId);
      data.forEach((m) => store.set(m.seq, m));
      state.hasOlder.set(conversationId, response.headers.get("X-Has-More") === "true");
      markRead(state.conversations.get(conversationId));
    }
    renderMessages(true);
    $("composer-input").focus();
  }

  async function loadOlder() {
    const conversationId = state.byPeer.get(state.activePeer);
    if (!conversationId || state.loadingOlder || !state.hasOlder.get(conversationId)) return;
    const store = messagesOf(conversationId);
    const oldest = Math.min(...store.keys());
    state.loadingOlder = true;
    try {
      const url = "/api/messages/" + encodeURIComponent(state.activePeer) + "?limit=" + PAGE + "&before=" + oldest;
      const { data, response } = await api(url);
      const list = $("messages");
      const fromBottom = list.scrollHeight - list.scrollTop;
      data.forEach((m) => store.set(m.seq, m));
      state.hasOlder.set(conversationId, response.headers.get("X-Has-More") === "true");
      renderMessages(false);
      list.scrollTop = list.scrollHeight - fromBottom; // keep the reader's place
    } finally {
      state.loadingOlder = false;
    }
  }

  function markRead(c) {
    if (!c || !c.lastSeq) return;
    const mine = c.readSeqs[state.me._id] || 0;
    if (c.unreadCount === 0 && mine >= c.lastSeq) return;
    c.unreadCount = 0;
    c.readSeqs[state.me._id] = c.lastSeq;
    if (state.socket && state.socket.connected) {
      state.socket.emit("markRead", { conversationId: c._id, seq: c.lastSeq }, () => {});
    } else {
      api("/api/conversations/" + c._id + "/read", { method: "POST", body: { seq: c.lastSeq } }).catch(() => {});
    }
    renderContacts();
  }

  async function send(event) {
    event.preventDefault();
    const input = $("composer-input");
    const text = input.value;
    if (!text.trim() || !state.activePeer) return;
    const clientMsgId = (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random()).replace(/[^A-Za-z0-9_-]/g, "");
    const payload = { to: state.activePeer, message: text, clientMsgId };
    input.value = "";
    stopTyping();
    try {
      const ack = await sendOverSocket(payload);
      if (!ack.ok) throw Object.assign(new Error(ack.error.detail), { data: { error: ack.error.detail } });
      receiveMessage(ack.message, false);
    } catch (error) {
      if (error.data) {
        input.value = text;
        alert(error.data.error || error.message);
        return;
      }
      // The socket is down: the REST API takes the same clientMsgId, so nothing is sent twice.
      try {
        const { data } = await api("/api/messages/send/" + encodeURIComponent(state.activePeer), {
          method: "POST",
          body: { message: text, clientMsgId },
        });
        receiveMessage(data, false);
      } catch (restError) {
        input.value = text;
        alert(formError(restError));
      }
    }
  }

  function sendOverSocket(payload) {
    return new Promise((resolve, reject) => {
      if (!state.socket || !state.socket.connected) return reject(new Error("offline"));
      state.socket.timeout(5000).emit("sendMessage", payload, (err, ack) => (err ? reject(new Error("timeout")) : resolve(ack)));
    });
  }

  // ---- typing ----------------------------------------------------------------------------

  function onInput() {
    const conversationId = state.byPeer.get(state.activePeer);
    if (!conversationId || !state.socket || !state.socket.connected) return;
    const now = Date.now();
    if (now - state.typingSent > 2000) {
      state.socket.emit("typing", { conversationId, isTyping: true }, () => {});
      state.typingSent = now;
    }
    clearTimeout(state.stopTypingTimer);
    state.stopTypingTimer = setTimeout(stopTyping, 3000);
  }

  function stopTyping() {
    clearTimeout(state.stopTypingTimer);
    const conversationId = state.byPeer.get(state.activePeer);
    if (state.typingSent && conversationId && state.socket && state.socket.connected) {
      state.socket.emit("typing", { conversationId, isTyping: false }, () => {});
    }
    state.typingSent = 0;
  }

  function showTyping(conversationId, userId, isTyping) {
    clearTimeout(state.typingTimers.get(conversationId));
    const visible = isTyping && isActive(conversationId) && userId === state.activePeer;
    $("typing").hidden = !visible;
    if (isTyping) state.typingTimers.set(conversationId, setTimeout(() => ($("typing").hidden = true), 6000));
  }

  // ---- rendering -------------------------------------------------------------------------

  function renderContacts() {
    if (!state.me) return;
    const query = $("search").value.trim().toLowerCase();
    const rows = [...state.users.values()]
      .filter((u) => u._id !== state.me._id)
      .filter((u) => !query || u.username.toLowerCase().includes(query) || (u.fullName || "").toLowerCase().includes(query))
      .map((u) => ({ user: u, conversation: state.conversations.get(state.byPeer.get(u._id)) }))
      .sort((a, b) => {
        const at = a.conversation && a.conversation.lastMessage ? a.conversation.lastMessage.createdAt : "";
        const bt = b.conversation && b.conversation.lastMessage ? b.conversation.lastMessage.createdAt : "";
        return bt.localeCompare(at) || a.user.username.localeCompare(b.user.username);
      });
    const list = $("contacts");
    list.replaceChildren(
      ...rows.map(({ user, conversation }) => {
        const li = el("li", "contact" + (user._id === state.activePeer ? " active" : ""));
        li.dataset.peer = user._id;
        const wrap = el("span", "avatar-wrap");
        const img = el("img", "avatar");
        img.src = user.profilePic;
        img.alt = "";
        const dot = el("span", "dot" + (state.online.has(user._id) ? " online" : ""));
        dot.title = state.online.has(user._id) ? "online" : "offline";
        wrap.append(img, dot);
        const text = el("span", "text");
        text.append(el("div", "name", user.fullName || user.username));
        const last = conversation && conversation.lastMessage;
        text.append(el("div", "preview", last ? (last.hidden ? "message hidden" : last.message) : "@" + user.username));
        li.append(wrap, text);
        if (conversation && conversation.unreadCount > 0 && user._id !== state.activePeer) {
          li.append(el("span", "badge", String(conversation.unreadCount)));
        }
        li.addEventListener("click", () => openPeer(user._id));
        return li;
      })
    );
  }

  function renderMessages(scrollToEnd) {
    const conversationId = state.byPeer.get(state.activePeer);
    const list = $("messages");
    if (!conversationId) {
      list.replaceChildren();
      return;
    }
    const c = state.conversations.get(conversationId);
    const peerRead = (c && c.readSeqs[state.activePeer]) || 0;
    const atEnd = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    const messages = [...messagesOf(conversationId).values()].sort((a, b) => a.seq - b.seq);
    list.replaceChildren(
      ...messages.map((m) => {
        const mine = m.senderId === state.me._id;
        const li = el("li", "message" + (mine ? " mine" : "") + (m.hidden ? " hidden-msg" : ""));
        li.dataset.seq = m.seq;
        li.append(document.createTextNode(m.hidden ? "This message was hidden by a moderator." : m.message));
        const meta = el("span", "meta", new Date(m.createdAt).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
        if (mine) {
          const ticks = el("span", "ticks" + (peerRead >= m.seq ? " read" : ""), peerRead >= m.seq ? " ✓✓" : " ✓");
          ticks.title = peerRead >= m.seq ? "read" : "sent";
          meta.append(ticks);
        }
        li.append(meta);
        return li;
      })
    );
    if (scrollToEnd || atEnd) list.scrollTop = list.scrollHeight;
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // ---- wiring ----------------------------------------------------------------------------

  $("show-login").addEventListener("click", () => switchAuth(false));
  $("show-signup").addEventListener("click", () => switchAuth(true));
  $("login-form").addEventListener("submit", (e) => submitAuth(e, "/api/auth/login"));
  $("signup-form").addEventListener("submit", (e) => submitAuth(e, "/api/auth/signup"));
  $("logout").addEventListener("click", logout);
  $("search").addEventListener("input", renderContacts);
  $("composer").addEventListener("submit", send);
  $("composer-input").addEventListener("input", onInput);
  $("back").addEventListener("click", () => {
    state.activePeer = null;
    $("app").classList.remove("chatting");
    $("conversation").classList.add("empty");
    renderContacts();
  });
  $("messages").addEventListener("scroll", () => {
    if ($("messages").scrollTop < 60) loadOlder();
  });
  window.addEventListener("focus", () => {
    const c = state.conversations.get(state.byPeer.get(state.activePeer));
    if (c) markRead(c);
  });

  if (state.access) {
    startChat().catch(() => {
      clearTokens();
      showAuth();
    });
  } else {
    showAuth();
  }
})();
