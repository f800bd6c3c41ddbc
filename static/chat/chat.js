// The demo chat page: plain JavaScript over the REST API and Socket.IO.
// User text is only ever put into the page with textContent, never as HTML.
//
// The page is conversation-centric: messages, unread counts, read ticks and typing all key off
// a conversation id, whether it is a direct conversation or a group. The one exception is a
// direct chat that does not exist yet: clicking a person opens it by their user id
// (state.activePeer), and the first message sent creates it through the direct routes.
(function () {
  "use strict";

  const PAGE = 30;
  const $ = (id) => document.getElementById(id);
  const state = {
    me: null,
    access: localStorage.getItem("chat.access"),
    refresh: localStorage.getItem("chat.refresh"),
    users: new Map(), // userId -> user
    conversations: new Map(), // conversationId -> entry (see blankConversation)
    directByPeer: new Map(), // userId -> id of the direct conversation with them
    // Groups we were removed from or left: a late event for one of them must not bring it back.
    gone: new Set(),
    online: new Set(),
    activeConversation: null, // id of the open conversation
    activePeer: null, // the other person of the open direct chat, even before it has an id
    messages: new Map(), // conversationId -> Map(seq -> message)
    loadingOlder: false,
    syncCursor: null,
    socket: null,
    typing: new Map(), // conversationId -> Map(userId -> timer that hides them)
    typingIn: null, // the conversation we last told "typing" (to tell it we stopped)
    typingSent: 0,
    stopTypingTimer: null,
    leaving: null, // the group we are leaving ourselves: its removedFromConversation is no news
    membersOf: null, // the group whose member panel is open
    picked: { group: new Set(), add: new Set() }, // ticked people in the two pickers
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

  function conversationPath(conversationId, rest) {
    return "/api/conversations/" + encodeURIComponent(conversationId) + (rest || "");
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

  // ---- start and the conversation list ---------------------------------------------------

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

  function blankConversation(id, kind) {
    return {
      _id: id,
      kind, // "direct" or "group"
      peerId: null, // direct: the other person
      title: "", // group: its name
      memberIds: [], // group: everyone in it, me included
      ownerId: null,
      adminIds: [],
      lastMessage: null,
      lastMessageAt: null,
      lastSeq: 0,
      unreadCount: 0,
      readSeqs: {}, // userId -> the seq they have read up to
    };
  }

  // A direct conversation opened by its peer before it existed gets its id here.
  function bindDirect(c) {
    state.directByPeer.set(c.peerId, c._id);
    if (state.activePeer === c.peerId && !state.activeConversation) state.activeConversation = c._id;
  }

  function unreadOf(c) {
    return Math.max(0, c.lastSeq - (c.readSeqs[state.me._id] || 0));
  }

  function mergeReads(c, readSeqs) {
    Object.entries(readSeqs || {}).forEach(([userId, seq]) => {
      c.readSeqs[userId] = Math.max(c.readSeqs[userId] || 0, seq);
    });
  }

  // An entry of GET /api/conversations (it names the other participants with their details).
  function rememberConversation(item) {
    item.participants.forEach((u) => state.users.set(u._id, state.users.get(u._id) || u));
    const c = state.conversations.get(item._id) || blankConversation(item._id, item.kind);
    c.kind = item.kind;
    c.title = item.title;
    if (item.lastMessage && (!c.lastMessage || item.lastMessage.seq >= c.lastMessage.seq)) {
      c.lastMessage = item.lastMessage;
    }
    c.lastMessageAt = item.lastMessageAt;
    c.lastSeq = Math.max(c.lastSeq, item.lastSeq);
    mergeReads(c, item.readSeqs);
    // Messages may have arrived since the server counted: count from what we hold.
    c.unreadCount = unreadOf(c);
    state.conversations.set(c._id, c);
    state.gone.delete(c._id);
    if (c.kind === "direct" && item.participants[0]) {
      c.peerId = item.participants[0]._id;
      bindDirect(c);
    } else if (c.kind === "group") {
      c.memberIds = [state.me._id, ...item.participants.map((u) => u._id)];
    }
  }

  // A group as the group routes and conversationUpdated give it (ids and roles, no details).
  function rememberGroup(group) {
    let c = state.conversations.get(group._id);
    if (!c) {
      c = blankConversation(group._id, "group");
      c.lastSeq = group.lastSeq;
      mergeReads(c, group.readSeqs);
      c.unreadCount = unreadOf(c);
      state.conversations.set(c._id, c);
    }
    // lastSeq is left to the messages themselves: raising it here would keep the newMessage
    // that follows from counting as unread.
    Object.assign(c, {
      kind: "group",
      title: group.title,
      ownerId: group.ownerId,
      adminIds: group.adminIds,
      memberIds: group.memberIds,
    });
    mergeReads(c, group.readSeqs);
    state.gone.delete(c._id);
    return c;
  }

  // The server's list is the truth about which groups we are in, their names and members: it
  // is asked again when something unknown shows up (a new group, a stranger in a group) and
  // after a reconnect (we may have been added or removed meanwhile). Concurrent asks share one.
  let listRefresh = null;
  function refreshList({ takeCursor = false } = {}) {
    if (listRefresh) return listRefresh;
    // Only groups known before the ask can be missing for a reason: one that appeared during
    // it (created just now) may simply be newer than the answer.
    const known = new Set(state.conversations.keys());
    listRefresh = api("/api/conversations")
      .then(({ data }) => {
        const listed = new Set(data.conversations.map((c) => c._id));
        data.conversations.forEach(rememberConversation);
        [...state.conversations.values()]
          .filter((c) => c.kind === "group" && known.has(c._id) && !listed.has(c._id))
          .forEach((c) => forgetConversation(c._id, "You are no longer a member of " + c.title + "."));
        // Only a reload takes the new cursor: otherwise the old one is kept, so the next sync
        // still returns whatever we had not seen yet.
        if (takeCursor) state.syncCursor = data.syncCursor;
        renderAll();
        watchPresence();
      })
      .catch(() => {})
      .finally(() => (listRefresh = null));
    return listRefresh;
  }

  // Roles and members of one group as they are now (the list does not carry roles).
  async function refreshGroup(conversationId) {
    try {
      const { data } = await api(conversationPath(conversationId));
      rememberGroup(data);
      if (data.memberIds.some((id) => !state.users.has(id))) refreshList();
      renderAll();
    } catch (error) {
      if (error.status === 404) forgetConversation(conversationId, "You are no longer a member of this group.");
    }
  }

  function forgetConversation(conversationId, notice) {
    const c = state.conversations.get(conversationId);
    if (!c) return;
    state.gone.add(conversationId);
    state.conversations.delete(conversationId);
    state.messages.delete(conversationId);
    state.typing.delete(conversationId);
    if (state.membersOf === conversationId) $("members-dialog").close();
    if (isActive(conversationId)) closeConversation(notice);
    renderContacts();
  }

  // ---- socket ----------------------------------------------------------------------------

  // The server tells a user's contacts when they come and go; the sidebar also lists people
  // we have not talked to yet, so ask to hear about them too (and who is online right now).
  // Group members come first: the member panel shows their dots.
  function watchPresence() {
    if (!state.socket) return;
    const ids = new Set();
    state.conversations.forEach((c) => c.memberIds.forEach((id) => ids.add(id)));
    state.users.forEach((_, id) => ids.add(id));
    ids.delete(state.me._id);
    state.socket.emit("watchPresence", { userIds: [...ids].slice(0, 500) }, (answer) => {
      if (!answer || !answer.ok) return;
      answer.online.forEach((id) => state.online.add(id));
      renderPresence();
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
      renderPresence();
    });
    socket.on("userOnline", ({ userId }) => {
      state.online.add(userId);
      renderPresence();
    });
    socket.on("userOffline", ({ userId }) => {
      state.online.delete(userId);
      renderPresence();
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
    socket.on("conversationUpdated", onConversationUpdated);
    socket.on("removedFromConversation", ({ conversationId }) => {
      const c = state.conversations.get(conversationId);
      const notice = state.leaving === conversationId ? "You left " : "You are no longer a member of ";
      forgetConversation(conversationId, c && notice + c.title + ".");
    });
    socket.on("sessionEnded", ({ reason }) => {
      if (reason === "deactivated") {
        clearTokens();
        showAuth();
        $("auth-error").textContent = "Your account was deactivated.";
      }
    });
  }

  // A group was created (we are in it: someone added us), renamed, or its members changed.
  function onConversationUpdated(group) {
    if (!group.memberIds.includes(state.me._id)) return;
    const known = state.conversations.get(group._id);
    const before = known ? known.memberIds.join() : "";
    rememberGroup(group);
    // Its name is all we know of a stranger in the group: the list has their details.
    if (!known || group.memberIds.some((id) => !state.users.has(id))) refreshList();
    else if (before !== group.memberIds.join()) watchPresence();
    renderAll();
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
        if (error.status === 410) return refreshList({ takeCursor: true });
        return;
      }
    }
    // Sync brings messages, not membership: groups we joined or left meanwhile, new names and
    // members come from the list.
    await refreshList();
    if (state.activeConversation && activeConversation().kind === "group") refreshGroup(state.activeConversation);
  }

  // ---- messages --------------------------------------------------------------------------

  function isActive(conversationId) {
    return state.activeConversation !== null && state.activeConversation === conversationId;
  }

  function activeConversation() {
    return state.conversations.get(state.activeConversation) || null;
  }

  function peerOf(message) {
    return message.senderId === state.me._id ? message.receiverId : message.senderId;
  }

  // The conversation a message belongs to; the first message of one we did not know about
  // makes its entry, and the list fills in what a message does not say (names, members).
  function conversationOf(message) {
    const known = state.conversations.get(message.conversationId);
    if (known) return known;
    const direct = message.receiverId !== null;
    const c = blankConversation(message.conversationId, direct ? "direct" : "group");
    state.conversations.set(c._id, c);
    if (direct) {
      c.peerId = peerOf(message);
      bindDirect(c);
      if (state.users.has(c.peerId)) watchPresence(); // a new contact: the server now shares their presence with us
      else refreshList();
    } else {
      refreshList();
    }
    return c;
  }

  function receiveMessage(message, live) {
    if (state.gone.has(message.conversationId)) return; // a late event of a group we left
    const c = conversationOf(message);
    const store = messagesOf(c._id);
    const isNew = !store.has(message.seq);
    store.set(message.seq, message);
    if (!c.lastMessage || message.seq >= c.lastMessage.seq) c.lastMessage = message;
    const mine = message.senderId === state.me._id;
    if (message.seq > c.lastSeq) {
      c.lastSeq = message.seq;
      if (!mine && isNew) c.unreadCount += 1;
    }
    if (mine) c.readSeqs[state.me._id] = Math.max(c.readSeqs[state.me._id] || 0, message.seq);
    else if (isNew && !message.system) showTyping(c._id, message.senderId, false); // they sent it: done typing
    // Membership notes ("Ana added Ben") are shown, but make no sound.
    const loud = live && !mine && isNew && !message.system;
    if (isActive(c._id)) {
      renderMessages(true);
      if (!mine && isNew) markRead(c);
      if (loud) {
        notify();
        shake(document.querySelector('#messages [data-seq="' + message.seq + '"]'));
      }
    } else if (loud) {
      notify();
    }
    renderContacts();
    if (loud && !isActive(c._id)) shake(rowOf(c));
  }

  function rowOf(c) {
    const selector = c.kind === "group" ? '[data-conversation="' + c._id + '"]' : '[data-peer="' + c.peerId + '"]';
    return document.querySelector("#contacts " + selector);
  }

  function messagesOf(conversationId) {
    if (!state.messages.has(conversationId)) state.messages.set(conversationId, new Map());
    return state.messages.get(conversationId);
  }

  // Seqs run 1, 2, 3, … without gaps, so older messages exist while the oldest held is not 1.
  function hasOlder(conversationId) {
    const seqs = [...messagesOf(conversationId).keys()];
    return seqs.length > 0 && Math.min(...seqs) > 1;
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

  // ---- opening and closing a conversation ------------------------------------------------

  function showConversation(conversationId, peerId) {
    stopTyping(); // tell the conversation we leave that we stopped
    state.activeConversation = conversationId;
    state.activePeer = peerId;
    $("conversation").classList.remove("empty");
    $("app").classList.add("chatting");
    $("notice").hidden = true;
    $("composer-error").textContent = "";
    renderHeader();
    renderTyping();
    renderContacts();
    renderMessages(true);
  }

  // `notice` says why the conversation closed (removed from a group, left it). On a phone the
  // conversation pane stays up to show it; its back button leads to the list.
  function closeConversation(notice) {
    stopTyping();
    state.activeConversation = state.activePeer = null;
    $("conversation").classList.add("empty");
    if (!notice) $("app").classList.remove("chatting");
    $("messages").replaceChildren();
    $("notice").textContent = notice || "";
    $("notice").hidden = !notice;
    renderHeader();
    renderTyping();
    renderContacts();
  }

  function openPeer(peerId) {
    const conversationId = state.directByPeer.get(peerId);
    if (conversationId) return openConversation(conversationId);
    return openNewDirect(peerId);
  }

  // A person we have no conversation with, as far as we know: the direct route finds it if
  // there is one after all; otherwise the first message sent creates it.
  async function openNewDirect(peerId) {
    showConversation(null, peerId);
    const { data } = await api("/api/messages/" + encodeURIComponent(peerId) + "?limit=" + PAGE);
    if (state.activePeer !== peerId || !data.length) return;
    const last = data[data.length - 1];
    const c = conversationOf(last);
    const store = messagesOf(c._id);
    data.forEach((m) => store.set(m.seq, m));
    if (!c.lastMessage || last.seq >= c.lastMessage.seq) c.lastMessage = last;
    c.lastSeq = Math.max(c.lastSeq, last.seq);
    refreshList(); // its read markers, for the ticks
    markRead(c);
    renderMessages(true);
    $("composer-input").focus();
  }

  async function openConversation(conversationId) {
    const c = state.conversations.get(conversationId);
    if (!c) return;
    showConversation(conversationId, c.kind === "direct" ? c.peerId : null);
    if (c.kind === "group") refreshGroup(conversationId); // roles, for the member panel
    const { data } = await api(conversationPath(conversationId, "/messages?limit=" + PAGE));
    if (!isActive(conversationId)) return;
    const store = messagesOf(conversationId);
    data.messages.forEach((m) => store.set(m.seq, m));
    markRead(c);
    renderMessages(true);
    $("composer-input").focus();
  }

  async function loadOlder() {
    const conversationId = state.activeConversation;
    if (!conversationId || state.loadingOlder || !hasOlder(conversationId)) return;
    const store = messagesOf(conversationId);
    const oldest = Math.min(...store.keys());
    state.loadingOlder = true;
    try {
      const { data } = await api(conversationPath(conversationId, "/messages?limit=" + PAGE + "&before=" + oldest));
      if (!isActive(conversationId)) return;
      const list = $("messages");
      const fromBottom = list.scrollHeight - list.scrollTop;
      data.messages.forEach((m) => store.set(m.seq, m));
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
      api(conversationPath(c._id, "/read"), { method: "POST", body: { seq: c.lastSeq } }).catch(() => {});
    }
    renderContacts();
  }

  // ---- sending ---------------------------------------------------------------------------

  async function send(event) {
    event.preventDefault();
    const input = $("composer-input");
    const text = input.value;
    if (!text.trim() || !(state.activeConversation || state.activePeer)) return;
    const clientMsgId = (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random()).replace(/[^A-Za-z0-9_-]/g, "");
    // Into the conversation once it exists; a first message to someone goes by their id and
    // creates the direct conversation.
    const target = state.activeConversation ? { conversationId: state.activeConversation } : { to: state.activePeer };
    input.value = "";
    $("composer-error").textContent = "";
    stopTyping();
    try {
      const ack = await sendOverSocket(Object.assign({ message: text, clientMsgId }, target));
      if (!ack.ok) throw Object.assign(new Error(ack.error.detail), { data: { error: ack.error.detail } });
      receiveMessage(ack.message, false);
    } catch (error) {
      if (error.data) return sendFailed(text, error.data.error || error.message);
      // The socket is down: the REST API takes the same clientMsgId, so nothing is sent twice.
      const path = target.conversationId
        ? conversationPath(target.conversationId, "/messages")
        : "/api/messages/send/" + encodeURIComponent(target.to);
      try {
        const { data } = await api(path, { method: "POST", body: { message: text, clientMsgId } });
        receiveMessage(data, false);
      } catch (restError) {
        sendFailed(text, formError(restError));
      }
    }
  }

  // The text goes back into the box, the reason under it.
  function sendFailed(text, reason) {
    $("composer-input").value = text;
    $("composer-error").textContent = reason;
  }

  function sendOverSocket(payload) {
    return new Promise((resolve, reject) => {
      if (!state.socket || !state.socket.connected) return reject(new Error("offline"));
      state.socket.timeout(5000).emit("sendMessage", payload, (err, ack) => (err ? reject(new Error("timeout")) : resolve(ack)));
    });
  }

  // ---- typing ----------------------------------------------------------------------------

  function onInput() {
    const conversationId = state.activeConversation;
    if (!conversationId || !state.socket || !state.socket.connected) return;
    const now = Date.now();
    if (now - state.typingSent > 2000 || state.typingIn !== conversationId) {
      state.socket.emit("typing", { conversationId, isTyping: true }, () => {});
      state.typingSent = now;
      state.typingIn = conversationId;
    }
    clearTimeout(state.stopTypingTimer);
    state.stopTypingTimer = setTimeout(stopTyping, 3000);
  }

  function stopTyping() {
    clearTimeout(state.stopTypingTimer);
    const conversationId = state.typingIn;
    if (state.typingSent && conversationId && state.conversations.has(conversationId) && state.socket && state.socket.connected) {
      state.socket.emit("typing", { conversationId, isTyping: false }, () => {});
    }
    state.typingSent = 0;
    state.typingIn = null;
  }

  // Who is typing where. Each "typing" lasts 6 s unless repeated (the sender repeats it every
  // 2 s while typing), so a lost "stopped" never leaves someone typing for ever.
  function showTyping(conversationId, userId, isTyping) {
    const typers = state.typing.get(conversationId) || new Map();
    clearTimeout(typers.get(userId));
    typers.delete(userId);
    if (isTyping) typers.set(userId, setTimeout(() => showTyping(conversationId, userId, false), 6000));
    if (typers.size) state.typing.set(conversationId, typers);
    else state.typing.delete(conversationId);
    if (isActive(conversationId)) renderTyping();
  }

  function renderTyping() {
    const c = activeConversation();
    const typers = c && state.typing.has(c._id) ? [...state.typing.get(c._id).keys()] : [];
    $("typing").hidden = typers.length === 0;
    $("typing").textContent = c && c.kind === "group" ? typingText(typers) : "typing…";
  }

  function typingText(userIds) {
    const names = userIds.map(nameOf);
    if (names.length === 1) return names[0] + " is typing…";
    if (names.length === 2) return names[0] + " and " + names[1] + " are typing…";
    return names.length + " people are typing…";
  }

  // ---- rendering: sidebar ----------------------------------------------------------------

  function renderAll() {
    renderContacts();
    if (state.activeConversation) {
      renderHeader();
      renderTyping();
      renderMessages(false);
    }
    if (state.membersOf) renderMembers();
  }

  // Presence changes only move dots: no need to redraw the messages.
  function renderPresence() {
    renderContacts();
    if (state.membersOf) renderMembers();
  }

  function nameOf(userId) {
    if (userId === state.me._id) return state.me.fullName || state.me.username;
    const user = state.users.get(userId);
    return user ? user.fullName || user.username : "Someone";
  }

  function matches(user, query) {
    return !query || user.username.toLowerCase().includes(query) || (user.fullName || "").toLowerCase().includes(query);
  }

  function people() {
    return [...state.users.values()].filter((u) => u._id !== state.me._id);
  }

  function lastActivity(c) {
    if (!c) return "";
    return (c.lastMessage && c.lastMessage.createdAt) || c.lastMessageAt || "";
  }

  // People and groups in one list, the most recent activity first.
  function renderContacts() {
    if (!state.me) return;
    const query = $("search").value.trim().toLowerCase();
    const personRows = people()
      .filter((u) => matches(u, query))
      .map((u) => ({ name: u.username, conversation: state.conversations.get(state.directByPeer.get(u._id)), user: u }));
    const groupRows = [...state.conversations.values()]
      .filter((c) => c.kind === "group" && (!query || c.title.toLowerCase().includes(query)))
      .map((c) => ({ name: c.title.toLowerCase(), conversation: c, user: null }));
    const rows = personRows.concat(groupRows).sort((a, b) => {
      return lastActivity(b.conversation).localeCompare(lastActivity(a.conversation)) || a.name.localeCompare(b.name);
    });
    $("contacts").replaceChildren(...rows.map((row) => (row.user ? personRow(row.user, row.conversation) : groupRow(row.conversation))));
  }

  function personRow(user, conversation) {
    const active = state.activePeer === user._id;
    const li = el("li", "contact" + (active ? " active" : ""));
    li.dataset.peer = user._id;
    li.append(avatarWithDot(user), rowText(user.fullName || user.username, null, preview(conversation, "@" + user.username)));
    if (conversation && conversation.unreadCount > 0 && !active) li.append(el("span", "badge", String(conversation.unreadCount)));
    li.addEventListener("click", () => openPeer(user._id));
    return li;
  }

  function groupRow(c) {
    const active = isActive(c._id);
    const li = el("li", "contact group" + (active ? " active" : ""));
    li.dataset.conversation = c._id;
    li.append(groupAvatar(c), rowText(c.title, memberCount(c), preview(c, "No messages yet")));
    if (c.unreadCount > 0 && !active) li.append(el("span", "badge", String(c.unreadCount)));
    li.addEventListener("click", () => openConversation(c._id));
    return li;
  }

  function rowText(name, extra, previewText) {
    const text = el("span", "text");
    const line = el("div", "name", name);
    if (extra) line.append(el("span", "member-count", extra));
    text.append(line, el("div", "preview", previewText));
    return text;
  }

  function memberCount(c) {
    return c.memberIds.length + (c.memberIds.length === 1 ? " member" : " members");
  }

  // The last message as a line; in a group, with who wrote it.
  function preview(c, fallback) {
    const last = c && c.lastMessage;
    if (!last) return fallback;
    const body = last.hidden ? "message hidden" : last.message;
    if (c.kind !== "group" || last.system) return body;
    return (last.senderId === state.me._id ? "You" : nameOf(last.senderId)) + ": " + body;
  }

  function avatarWithDot(user) {
    const wrap = el("span", "avatar-wrap");
    const img = el("img", "avatar");
    img.src = user.profilePic;
    img.alt = "";
    const online = state.online.has(user._id);
    const dot = el("span", "dot" + (online ? " online" : ""));
    dot.title = online ? "online" : "offline";
    wrap.append(img, dot);
    return wrap;
  }

  // A group has no picture: its initial on a coloured disc (text, so textContent).
  function groupAvatar(c) {
    const avatar = el("span", "avatar group-avatar", (c.title.trim()[0] || "#").toUpperCase());
    avatar.setAttribute("aria-hidden", "true");
    return avatar;
  }

  // ---- rendering: the conversation --------------------------------------------------------

  function renderHeader() {
    const c = activeConversation();
    const group = c && c.kind === "group";
    const peer = !group && state.activePeer ? state.users.get(state.activePeer) : null;
    $("peer-avatar").hidden = group;
    $("group-avatar").hidden = !group;
    $("members-button").hidden = !group;
    $("peer-sub").hidden = !group;
    if (group) {
      $("peer-name").textContent = c.title;
      $("group-avatar").textContent = groupAvatar(c).textContent;
      $("peer-sub").textContent = memberCount(c);
    } else if (state.activePeer) {
      $("peer-name").textContent = peer ? peer.fullName || peer.username : "";
      $("peer-avatar").src = peer ? peer.profilePic : "";
    } else {
      $("peer-name").textContent = "Select someone to chat with";
      $("peer-avatar").removeAttribute("src");
    }
  }

  function renderMessages(scrollToEnd) {
    const c = activeConversation();
    const list = $("messages");
    if (!c) {
      list.replaceChildren();
      return;
    }
    const atEnd = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    const messages = [...messagesOf(c._id).values()].sort((a, b) => a.seq - b.seq);
    list.replaceChildren(
      ...messages.map((m, i) => {
        if (m.system) return systemLine(m);
        // In a group, a run of messages from one person is headed by their name.
        const previous = messages[i - 1];
        const named = c.kind === "group" && (!previous || previous.system || previous.senderId !== m.senderId);
        return bubble(m, c, named);
      })
    );
    if (scrollToEnd || atEnd) list.scrollTop = list.scrollHeight;
  }

  // "Ana added Ben": the server's own words, centred between the messages.
  function systemLine(m) {
    const li = el("li", "system-line", m.message);
    li.dataset.seq = m.seq;
    return li;
  }

  function bubble(m, c, named) {
    const mine = m.senderId === state.me._id;
    const li = el("li", "message" + (mine ? " mine" : "") + (m.hidden ? " hidden-msg" : ""));
    li.dataset.seq = m.seq;
    if (named && !mine) li.append(el("div", "sender", nameOf(m.senderId)));
    li.append(document.createTextNode(m.hidden ? "This message was hidden by a moderator." : m.message));
    const meta = el("span", "meta", new Date(m.createdAt).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
    if (mine) meta.append(c.kind === "group" ? groupTicks(m, c) : directTicks(m, c));
    li.append(meta);
    return li;
  }

  function directTicks(m, c) {
    const read = (c.readSeqs[c.peerId] || 0) >= m.seq;
    const ticks = el("span", "ticks" + (read ? " read" : ""), read ? " ✓✓" : " ✓");
    ticks.title = read ? "read" : "sent";
    return ticks;
  }

  // ✓✓ once every other member has read it; the title counts who has.
  function groupTicks(m, c) {
    const others = c.memberIds.filter((id) => id !== state.me._id);
    const readBy = others.filter((id) => (c.readSeqs[id] || 0) >= m.seq).length;
    const all = others.length > 0 && readBy === others.length;
    const ticks = el("span", "ticks" + (all ? " read" : ""), all ? " ✓✓" : " ✓");
    ticks.title = "read by " + readBy + " of " + others.length;
    ticks.setAttribute("aria-label", ticks.title);
    return ticks;
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // ---- people pickers (new group, add members) --------------------------------------------

  // A checkbox list of `candidates` filtered by the search box; ticks live in `picked`, so
  // narrowing the search never loses them.
  function renderPicker(list, candidates, query, picked) {
    const shown = candidates.filter((u) => matches(u, query)).sort((a, b) => nameOf(a._id).localeCompare(nameOf(b._id)));
    list.replaceChildren(
      ...shown.map((user) => {
        const li = el("li", "pick");
        const label = el("label");
        const box = el("input");
        box.type = "checkbox";
        box.value = user._id;
        box.checked = picked.has(user._id);
        box.addEventListener("change", () => (box.checked ? picked.add(user._id) : picked.delete(user._id)));
        const img = el("img", "avatar small");
        img.src = user.profilePic;
        img.alt = "";
        label.append(box, img, el("span", "name", user.fullName || user.username), el("span", "username", "@" + user.username));
        li.append(label);
        return li;
      })
    );
    if (!shown.length) list.append(el("li", "pick-empty", query ? "Nobody matches." : "Nobody to add."));
  }

  // ---- new group --------------------------------------------------------------------------

  function openNewGroup() {
    state.picked.group = new Set();
    $("group-form").reset();
    $("group-error").textContent = "";
    renderGroupPicker();
    $("group-dialog").showModal();
    $("group-name").focus();
  }

  function renderGroupPicker() {
    renderPicker($("group-candidates"), people(), $("group-search").value.trim().toLowerCase(), state.picked.group);
  }

  async function createGroup(event) {
    event.preventDefault();
    const name = $("group-name").value.trim();
    const participantIds = [...state.picked.group];
    if (!name) return ($("group-error").textContent = "Give the group a name.");
    if (!participantIds.length) return ($("group-error").textContent = "Pick at least one person.");
    $("group-create").disabled = true;
    try {
      const { data } = await api("/api/conversations", { method: "POST", body: { kind: "group", name, participantIds } });
      rememberGroup(data);
      $("group-dialog").close();
      watchPresence(); // its members are contacts now
      openConversation(data._id);
    } catch (error) {
      $("group-error").textContent = formError(error);
    } finally {
      $("group-create").disabled = false;
    }
  }

  // ---- member panel -----------------------------------------------------------------------

  function roleOf(c, userId) {
    if (userId === c.ownerId) return "owner";
    return c.adminIds.includes(userId) ? "admin" : "member";
  }

  // Mirrors the server's rules (docs/api.md, "Groups"); the server checks them again.
  function canManage(c) {
    return roleOf(c, state.me._id) !== "member";
  }

  function canRemove(c, userId) {
    if (userId === state.me._id) return false; // that is leaving: its own button
    const mine = roleOf(c, state.me._id);
    return mine === "owner" || (mine === "admin" && roleOf(c, userId) === "member");
  }

  function openMembers() {
    const c = activeConversation();
    if (!c || c.kind !== "group") return;
    state.membersOf = c._id;
    state.picked.add = new Set();
    $("add-search").value = "";
    $("rename-input").value = c.title;
    $("members-error").textContent = "";
    renderMembers();
    $("members-dialog").showModal();
    refreshGroup(c._id);
  }

  function renderMembers() {
    const c = state.conversations.get(state.membersOf);
    if (!c) return;
    const manage = canManage(c);
    $("members-title").textContent = c.title;
    $("members-count").textContent = memberCount(c);
    $("rename-form").hidden = !manage;
    $("add-members").hidden = !manage;
    const order = { owner: 0, admin: 1, member: 2 };
    const members = [...c.memberIds].sort((a, b) => order[roleOf(c, a)] - order[roleOf(c, b)] || nameOf(a).localeCompare(nameOf(b)));
    $("member-list").replaceChildren(...members.map((id) => memberRow(c, id)));
    if (manage) {
      const outside = people().filter((u) => !c.memberIds.includes(u._id));
      renderPicker($("add-candidates"), outside, $("add-search").value.trim().toLowerCase(), state.picked.add);
    }
  }

  function memberRow(c, userId) {
    const li = el("li", "member");
    li.dataset.user = userId;
    const user = state.users.get(userId) || (userId === state.me._id ? state.me : null);
    if (user) li.append(avatarWithDot(user));
    li.append(el("span", "name", nameOf(userId) + (userId === state.me._id ? " (you)" : "")));
    const role = roleOf(c, userId);
    if (role !== "member") li.append(el("span", "role", role));
    if (canRemove(c, userId)) {
      const remove = el("button", "link danger", "Remove");
      remove.type = "button";
      remove.setAttribute("aria-label", "Remove " + nameOf(userId));
      remove.addEventListener("click", () => changeMembers("DELETE", conversationPath(c._id, "/members/" + userId)));
      li.append(remove);
    }
    return li;
  }

  // One change of the group from the panel; the answer is the group as it is now, and
  // failures are shown in the panel.
  async function changeMembers(method, path, body) {
    const conversationId = state.membersOf;
    $("members-error").textContent = "";
    try {
      const { data } = await api(path, { method, body });
      rememberGroup(data);
      renderAll();
      return true;
    } catch (error) {
      if (state.membersOf === conversationId) $("members-error").textContent = formError(error);
      return false;
    }
  }

  async function addMembers() {
    const userIds = [...state.picked.add];
    if (!userIds.length) return ($("members-error").textContent = "Pick someone to add.");
    if (await changeMembers("POST", conversationPath(state.membersOf, "/members"), { userIds })) {
      state.picked.add = new Set();
      watchPresence();
      renderMembers();
    }
  }

  function rename(event) {
    event.preventDefault();
    const name = $("rename-input").value.trim();
    if (!name) return ($("members-error").textContent = "Give the group a name.");
    changeMembers("PATCH", conversationPath(state.membersOf), { name });
  }

  async function leave() {
    const c = state.conversations.get(state.membersOf);
    if (!c) return;
    state.leaving = c._id;
    $("members-error").textContent = "";
    try {
      await api(conversationPath(c._id, "/members/" + state.me._id), { method: "DELETE" });
      forgetConversation(c._id, "You left " + c.title + ".");
    } catch (error) {
      $("members-error").textContent = formError(error);
    } finally {
      state.leaving = null;
    }
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
  $("back").addEventListener("click", () => closeConversation());
  $("messages").addEventListener("scroll", () => {
    if ($("messages").scrollTop < 60) loadOlder();
  });
  window.addEventListener("focus", () => markRead(activeConversation()));

  $("new-group").addEventListener("click", openNewGroup);
  $("group-search").addEventListener("input", renderGroupPicker);
  $("group-form").addEventListener("submit", createGroup);
  $("members-button").addEventListener("click", openMembers);
  $("add-search").addEventListener("input", renderMembers);
  $("add-members-button").addEventListener("click", addMembers);
  $("rename-form").addEventListener("submit", rename);
  $("leave-group").addEventListener("click", leave);
  $("members-dialog").addEventListener("close", () => (state.membersOf = null));
  document.querySelectorAll("dialog [data-close]").forEach((button) => {
    button.addEventListener("click", () => button.closest("dialog").close());
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
