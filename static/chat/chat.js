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
  // A reply's quote leads to the message it answers: at most this many older pages are loaded
  // looking for it (its id is all the quote carries, not its seq).
  const JUMP_PAGES = 10;
  // Message search: hits per page (the API's default), and how long typing must pause before a
  // search runs (each one counts against the server's SEARCH_RATE).
  const SEARCH_PAGE = 20;
  const SEARCH_DELAY = 300;
  // What the page says when the server refuses a search (GET /api/search, messaging.apis.SearchApi).
  const SEARCH_ERRORS = {
    search_query_invalid: "Type a word to search for.",
    conversation_not_found: "That conversation is no longer there.",
    rate_limited: "Too many searches at once: try again in a moment.",
  };
  const EMOJI = [
    ["👍", "thumbs up"],
    ["❤️", "red heart"],
    ["😂", "face with tears of joy"],
    ["🎉", "party popper"],
    ["😮", "surprised"],
    ["😢", "crying"],
    ["🙏", "folded hands"],
    ["🔥", "fire"],
  ];
  // What the page says when the server refuses a message action (docs/api.md, "Message actions").
  const ACTION_ERRORS = {
    edit_window_passed: "Too late to edit: this message was sent too long ago.",
    edit_limit_reached: "This message can't be edited any more.",
    message_deleted: "This message was deleted.",
    message_hidden: "A moderator hid this message.",
    system_message: "This message can't be changed.",
    too_many_reactions: "This message has too many different reactions.",
    message_not_found: "This message is no longer there.",
    reply_not_found: "The message you replied to is no longer there.",
    rate_limited: "Too many changes at once: try again in a moment.",
    attachment_not_found: "A file is no longer there: attach it again.",
    too_many_attachments: "A message carries at most 10 files.",
  };
  // Files on a message (docs/api.md, "Attachments"): at most this many, each uploaded as soon
  // as it is picked, dropped or pasted.
  const MAX_FILES = 10;
  const UPLOAD_ERRORS = {
    attachment_too_large: "is larger than 10 MB",
    attachment_type_not_allowed: "is not a kind of file that can be sent",
    attachment_image_too_large: "has too many pixels",
    rate_limited: "waits: too many uploads at once, try again in a moment",
  };
  const $ = (id) => document.getElementById(id);
  const state = {
    me: null,
    // Logged in from this page load: a session that ends shows the login form, and the next
    // login reloads the page rather than mixing one person's state into another's.
    started: false,
    lost: false,
    // What the login form says when the session ends while this page is ending it itself
    // (deleting the account): the server closing the socket first is no other news.
    ending: null,
    users: new Map(), // userId -> user
    conversations: new Map(), // conversationId -> entry (see blankConversation)
    directByPeer: new Map(), // userId -> id of the direct conversation with them
    // Groups we were removed from or left: a late event for one of them must not bring it back.
    gone: new Set(),
    online: new Set(),
    activeConversation: null, // id of the open conversation
    activePeer: null, // the other person of the open direct chat, even before it has an id
    messages: new Map(), // conversationId -> Map(seq -> message)
    loadingOlder: null, // the older page on its way (a promise), so a second ask waits for it
    syncCursor: null,
    socket: null,
    typing: new Map(), // conversationId -> Map(userId -> timer that hides them)
    typingIn: null, // the conversation we last told "typing" (to tell it we stopped)
    typingSent: 0,
    stopTypingTimer: null,
    leaving: null, // the group we are leaving ourselves: its removedFromConversation is no news
    membersOf: null, // the group whose member panel is open
    picked: { group: new Set(), add: new Set() }, // ticked people in the two pickers
    // The open conversation's message menu: { seq, mode: "actions" | "react" | "delete" }. The
    // list is redrawn on every event, so the menu lives here and each redraw draws it again.
    menu: null,
    actionError: null, // { seq, text }: why the last action on that message was refused
    // The composer answering a message or editing one of mine:
    // { mode: "reply" | "edit", conversationId, messageId, seq, senderId, text, draft }.
    composing: null,
    highlightSeq: null, // the message a quote or a search hit led to, flashing briefly
    // The sidebar's message search while its results are shown:
    // { q, conversationId (or null: everywhere), hits, cursor, hasMore, loading, error, openedId }.
    // An answer is kept only if this is still the same object: a newer search replaced it.
    search: null,
    searchTimer: null, // the search waiting for typing to pause
    // Files attached to the message being written, in order: { key, file, progress (0-1),
    // attachment (the server's answer once uploaded), error, request (the upload), preview }.
    pending: [],
    // Where the unread messages of the open conversation started when it was opened:
    // { conversationId, seq }; the "New messages" line stays there until another one opens.
    unreadMark: null,
    unseen: 0, // messages from others that arrived while the list was scrolled up
    // Messages that could not reach the server (it was unreachable), shown with "Retry":
    // { key, target, payload, text, files, reason, sending }. Retrying sends the same
    // clientMsgId, so a message that did arrive after all is not sent twice.
    failed: [],
  };

  // ---- REST ------------------------------------------------------------------------------
  //
  // The login session lives in two httpOnly cookies the server sets (docs/api.md, "Browser
  // sessions"): `jwt`, sent with every request, the socket's handshake and every <img>, and
  // `jwt_refresh`, sent only to /api/auth/refresh. The page never sees a token: same-origin
  // answers leave them out, and it sends no Authorization header.

  // Answers where a 401 is about what was typed (a wrong password), not a session that ended.
  const AUTH_PATHS = new Set(["/api/auth/login", "/api/auth/signup", "/api/auth/refresh", "/api/auth/logout"]);

  async function api(path, { method = "GET", body, retry = true } = {}) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
    const data = response.status === 204 ? null : await response.json().catch(() => null);
    if (response.status === 401 && retry && data && data.code === "token_expired" && (await refreshSession())) {
      return api(path, { method, body, retry: false });
    }
    if (!response.ok) {
      const error = new Error((data && data.error) || response.statusText);
      error.status = response.status;
      error.data = data;
      if (response.status === 401 && state.started && !AUTH_PATHS.has(path)) sessionLost();
      throw error;
    }
    return { data, response };
  }

  // A new access cookie from the refresh cookie (rotated). Two refreshes with the same refresh
  // cookie look like a stolen copy, and the server ends the session: everything in this page
  // that finds the cookie expired at the same moment shares one refresh, and the page's other
  // tabs wait their turn (Web Locks; by then the browser sends the cookie the last one set).
  let refreshing = null;
  function refreshSession() {
    if (!refreshing) {
      const refresh = () =>
        fetch("/api/auth/refresh", { method: "POST", credentials: "same-origin" })
          .then((r) => r.ok)
          .catch(() => false);
      refreshing = (navigator.locks ? navigator.locks.request("chat-session-refresh", refresh) : refresh())
        .catch(() => false)
        .finally(() => setTimeout(() => (refreshing = null), 0));
    }
    return refreshing;
  }

  // The session ended (logged out elsewhere, password changed, ended from another device,
  // account deleted or deactivated): back to the login form, saying why.
  function sessionLost(reason) {
    if (!state.started) return;
    state.started = false;
    state.lost = true;
    if (state.socket) {
      state.socket.off();
      state.socket.disconnect();
      state.socket = null;
    }
    document.querySelectorAll("dialog[open]").forEach((dialog) => dialog.close());
    $("banner").hidden = true;
    showAuth();
    switchAuth(false);
    $("auth-error").textContent = state.ending || reason || "Your session has ended: log in again.";
  }

  // This page's other tabs share its cookies, so a logout in one ends them all: they hear it at
  // once here (the server closes their sockets too, but a tab whose socket is down would only
  // learn it from its next request).
  const otherTabs = "BroadcastChannel" in window ? new BroadcastChannel("chat-session") : null;
  if (otherTabs) {
    otherTabs.onmessage = (event) => {
      if (event.data === "loggedOut") sessionLost("You logged out in another tab.");
    };
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
    $("forgot-form").hidden = true;
    $("show-login").classList.toggle("active", !toSignup);
    $("show-signup").classList.toggle("active", toSignup);
    $("auth-error").textContent = "";
    clearErrors($("signup-form"));
  }

  // "Forgot password?": the server emails a link to set a new one. Its answer is the same
  // whether the account exists or not, and so is what the page says.
  function showForgot() {
    const form = $("forgot-form");
    $("login-form").hidden = $("signup-form").hidden = true;
    form.hidden = false;
    $("forgot-done").hidden = true;
    $("auth-error").textContent = "";
    clearErrors(form);
    form.elements.login.value = $("login-form").elements.username.value;
    form.elements.login.focus();
  }

  async function requestReset(event) {
    event.preventDefault();
    const form = event.target;
    const login = form.elements.login.value.trim();
    clearErrors(form);
    $("forgot-done").hidden = true;
    if (!login) return fieldError(form, "login", "Type your username or email.");
    try {
      const { data } = await api("/api/auth/password/reset", { method: "POST", body: { login }, retry: false });
      $("forgot-done").textContent =
        (data && data.message) || "If an account matches, we have sent a link to its email address.";
      $("forgot-done").hidden = false;
    } catch (error) {
      showErrors(form, error);
    }
  }

  async function submitAuth(event, path) {
    event.preventDefault();
    const form = event.target;
    const signup = form === $("signup-form");
    const body = Object.fromEntries(new FormData(form).entries());
    if (body.email === "") delete body.email; // optional
    $("auth-error").textContent = "";
    if (signup && !checkSignup(form, body)) return;
    try {
      await api(path, { method: "POST", body, retry: false }); // sets the session cookies
    } catch (error) {
      if (!signup) $("auth-error").textContent = formError(error);
      else {
        showErrors(form, error);
        focusFirstError(form);
      }
      return;
    }
    // After a session ended, the page still holds the last person's conversations: start afresh.
    if (state.lost) return location.reload();
    await startChat();
  }

  // What the page can tell before asking the server: each under its field, in plain words.
  function checkSignup(form, body) {
    clearErrors(form);
    if (!body.fullName.trim()) fieldError(form, "fullName", "Type your name.");
    if (!body.username.trim()) fieldError(form, "username", "Choose a username.");
    if (!body.password) fieldError(form, "password", "Choose a password.");
    else if (body.password !== body.confirmPassword) fieldError(form, "confirmPassword", "The two passwords don't match.");
    return !focusFirstError(form);
  }

  // The first field marked invalid takes the focus; says whether there was one.
  function focusFirstError(form) {
    const invalid = form.querySelector('[aria-invalid="true"]');
    if (invalid) invalid.focus();
    return Boolean(invalid);
  }

  async function logout() {
    if (state.socket) state.socket.off("disconnect");
    // Told first: the server is about to close the other tabs' sockets too.
    if (otherTabs) otherTabs.postMessage("loggedOut");
    try {
      // No body: the access cookie names the session; the answer clears both cookies.
      await api("/api/auth/logout", { method: "POST", retry: false });
    } catch (_) {
      /* already logged out */
    }
    location.reload();
  }

  // ---- start and the conversation list ---------------------------------------------------

  async function startChat() {
    const { data: me } = await api("/api/auth/me");
    state.me = me;
    state.started = true;
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
    dropHits((hit) => hit.conversation._id === conversationId);
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

  // Why the server refuses a socket's handshake when the access cookie is the trouble.
  const SOCKET_AUTH_ERRORS = new Set(["token_expired", "unauthorized", "session_ended", "sessionEnded"]);

  function connectSocket() {
    // No token in `auth`: the handshake carries the `jwt` cookie. It carries the sync cursor
    // of the moment (a function: called on every connect), and the server answers whether
    // anything was missed since (`syncStatus`).
    const socket = io({
      transports: ["websocket", "polling"],
      auth: (send) => send(state.syncCursor ? { since: state.syncCursor } : {}),
    });
    state.socket = socket;
    // One refresh per refusal: if the server still refuses after it, the session is over.
    let refreshed = false;
    // socket.io-client hands over the events that came with the connect before "connect".
    let status = null;
    socket.on("syncStatus", (answer) => (status = answer));

    // The access cookie expired or the session may have ended: refresh once and connect again;
    // if the refresh cookie is refused too, the session has ended.
    async function reauthenticate() {
      if (refreshed || !(await refreshSession())) return sessionLost();
      refreshed = true;
      if (state.socket === socket) socket.connect();
    }

    socket.on("connect", () => {
      refreshed = false;
      $("banner").hidden = true;
      watchPresence();
      // Every connect catches up from the cursor, the first one too: what was stored between
      // the conversation list and this connect reached no socket of ours. Unless the server
      // said that nothing was missed since the cursor the handshake carried.
      const upToDate = Boolean(status && status.upToDate && status.since === state.syncCursor);
      status = null;
      catchUp({ upToDate });
    });
    socket.on("disconnect", (reason) => {
      // The server closed the socket (its token expired or its session ended): no connection
      // was lost, so no banner; a refresh connects again, or the login form shows.
      if (reason === "io server disconnect") return reauthenticate();
      $("banner").hidden = false;
    });
    socket.on("connect_error", (error) => {
      $("banner").hidden = false;
      if (SOCKET_AUTH_ERRORS.has(error.message)) reauthenticate();
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
    // Changes to a message: each carries it as it is now.
    socket.on("messageHidden", ({ message }) => receiveMessage(message, false, true));
    socket.on("messageUpdated", (message) => receiveMessage(message, false, true));
    socket.on("messageDeleted", ({ message }) => receiveMessage(message, false, true));
    socket.on("reactionsUpdated", ({ message }) => receiveMessage(message, false, true));
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
      if (reason === "deactivated") sessionLost("Your account was deactivated.");
      // Otherwise the disconnect that follows refreshes the session, or finds it ended.
    });
    // Someone signed up: the sidebar lists every user.
    socket.on("userSignedUp", ({ user }) => {
      if (user._id === state.me._id || state.users.has(user._id)) return;
      state.users.set(user._id, user);
      renderContacts();
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

  async function catchUp({ upToDate = false } = {}) {
    // Everything missed while disconnected, in order, without duplicates.
    let more = !upToDate;
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
        if (error.status === 410) return startOver();
        return;
      }
    }
    // Sync brings messages, not membership: groups we joined or left meanwhile, new names and
    // members come from the list.
    await refreshList();
    if (state.activeConversation && activeConversation().kind === "group") refreshGroup(state.activeConversation);
  }

  // The sync cursor is too old or unknown (410): what the page holds may miss messages in the
  // middle, which paging would never fill. It holds none, then, and loads the open
  // conversation's latest page again (docs/api.md, "Sync": drop local state and start over).
  async function startOver() {
    state.messages.clear();
    await refreshList({ takeCursor: true });
    const conversationId = state.activeConversation;
    if (!conversationId) return;
    const { data } = await api(conversationPath(conversationId, "/messages?limit=" + PAGE));
    if (!isActive(conversationId)) return;
    keepAll(messagesOf(conversationId), data.messages);
    renderMessages(true);
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

  // A new message, or one that changed (edited, deleted, reacted to, hidden: `change`): each
  // comes as it is now, and replaces what we hold by seq.
  function receiveMessage(message, live, change) {
    if (state.gone.has(message.conversationId)) return; // a late event of a group we left
    refreshHit(message);
    const c = conversationOf(message);
    const store = messagesOf(c._id);
    const held = store.get(message.seq);
    if (!isNewer(message, held)) return; // an ack that lost the race with a later change
    const isNew = !held;
    if (!c.lastMessage || message.seq > c.lastMessage.seq || (message.seq === c.lastMessage.seq && isNewer(message, c.lastMessage))) {
      c.lastMessage = message;
    }
    refreshQuotes(store, message);
    if (!held && !inWindow(c, store, message.seq, change)) {
      // A change to a message further back than we hold: holding it alone would make it the
      // oldest, and paging would skip the ones between. It shows when its page loads.
      renderContacts();
      if (isActive(c._id)) renderMessages(false);
      return;
    }
    store.set(message.seq, message);
    if (state.composing && state.composing.messageId === message._id) composingTargetChanged(message);
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
      if (!mine && isNew && awayFromEnd()) state.unseen += 1;
      // My own message takes the list to the end; others' only if the reader is there already.
      renderMessages(isNew && mine);
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

  // Whether `seq` belongs with the messages we hold: from the oldest held on, or, holding none,
  // newer than the last the server told us of (the list loads the latest page on opening). A
  // change in a conversation we know nothing of yet (lastSeq 0) may be to any old message.
  function inWindow(c, store, seq, change) {
    if (store.size) return seq > Math.min(...store.keys());
    return seq > c.lastSeq && !(change && !c.lastSeq);
  }

  // Every change gives the message a later updatedAt (ties at the millisecond go to the later
  // arrival): an older copy never replaces a newer one.
  function isNewer(message, held) {
    return !held || !held.updatedAt || !message.updatedAt || message.updatedAt >= held.updatedAt;
  }

  // A page of history, without overwriting what live events brought meanwhile.
  function keepAll(store, messages) {
    messages.forEach((m) => {
      if (isNewer(m, store.get(m.seq))) store.set(m.seq, m);
    });
  }

  // Replies quote the message they answer as it was when they were sent: bring their quotes up
  // to date when it is edited, deleted or hidden.
  function refreshQuotes(store, original) {
    store.forEach((m, seq) => {
      if (!m.replyTo || m.replyTo._id !== original._id) return;
      const replyTo = Object.assign({}, m.replyTo, {
        message: Array.from(original.message).slice(0, 100).join(""),
        deleted: original.deleted,
        hidden: original.hidden,
      });
      store.set(seq, Object.assign({}, m, { replyTo }));
    });
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
    resetMessageUi();
    if (conversationId !== state.activeConversation || peerId !== state.activePeer) clearPending();
    state.activeConversation = conversationId;
    state.activePeer = peerId;
    markUnreadStart(conversationId);
    $("conversation").classList.remove("empty");
    $("app").classList.add("chatting");
    $("notice").hidden = true;
    $("composer-error").textContent = "";
    renderHeader();
    renderTyping();
    renderContacts();
    renderSearch();
    renderMessages(true);
  }

  // `notice` says why the conversation closed (removed from a group, left it). On a phone the
  // conversation pane stays up to show it; its back button leads to the list.
  function closeConversation(notice) {
    stopTyping();
    resetMessageUi();
    clearPending();
    state.activeConversation = state.activePeer = null;
    state.unreadMark = null;
    $("conversation").classList.add("empty");
    if (!notice) $("app").classList.remove("chatting");
    $("messages").replaceChildren();
    updateJumpButton();
    $("notice").textContent = notice || "";
    $("notice").hidden = !notice;
    renderHeader();
    renderTyping();
    renderContacts();
    renderSearch();
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
    keepAll(store, data);
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
    keepAll(messagesOf(conversationId), data.messages);
    markRead(c);
    renderMessages(true);
    $("composer-input").focus();
  }

  // The next older page of the open conversation; resolves once it is shown.
  function loadOlder() {
    const conversationId = state.activeConversation;
    if (state.loadingOlder) return state.loadingOlder;
    if (!conversationId || !hasOlder(conversationId)) return Promise.resolve();
    state.loadingOlder = fetchOlder(conversationId).finally(() => (state.loadingOlder = null));
    return state.loadingOlder;
  }

  async function fetchOlder(conversationId) {
    const store = messagesOf(conversationId);
    const oldest = Math.min(...store.keys());
    const { data } = await api(conversationPath(conversationId, "/messages?limit=" + PAGE + "&before=" + oldest));
    if (!isActive(conversationId)) return;
    const list = $("messages");
    const fromBottom = list.scrollHeight - list.scrollTop;
    keepAll(store, data.messages);
    renderMessages(false);
    list.scrollTop = list.scrollHeight - fromBottom; // keep the reader's place
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
    if (state.composing && state.composing.mode === "edit") return saveEdit(state.composing);
    const input = $("composer-input");
    const text = input.value;
    if (!(state.activeConversation || state.activePeer)) return;
    if (state.pending.some((p) => !p.attachment && !p.error)) {
      $("composer-error").textContent = "Wait for the files to finish uploading.";
      return;
    }
    const files = state.pending.filter((p) => p.attachment);
    if (!text.trim() && !files.length) return;
    const attachments = files.length ? { attachments: files.map((p) => p.attachment._id) } : {};
    const replying = state.composing && state.composing.mode === "reply" ? state.composing : null;
    const replyTo = replying ? { replyTo: replying.messageId } : {};
    const clientMsgId = (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random()).replace(/[^A-Za-z0-9_-]/g, "");
    // Into the conversation once it exists; a first message to someone goes by their id and
    // creates the direct conversation.
    const target = state.activeConversation ? { conversationId: state.activeConversation } : { to: state.activePeer };
    input.value = "";
    fitComposer();
    $("composer-error").textContent = "";
    stopTyping();
    const payload = Object.assign({ message: text, clientMsgId }, replyTo, attachments);
    try {
      sent(await deliver(target, payload), replying);
    } catch (error) {
      if (!unreachable(error)) return sendFailed(text, actionErrorText(error));
      // The server could not be reached: the message waits in the list, with "Retry".
      keepFailed(target, payload, text, files.length);
      clearPending();
      if (replying && state.composing === replying) stopComposing();
    }
  }

  // A message to the server: over the socket, or the REST API when the socket is down or slow
  // (the REST API takes the same clientMsgId, so nothing is sent twice). Resolves with the
  // message; rejects with the server's refusal (`data.code`) or, unreachable, without a status.
  async function deliver(target, payload) {
    let ack;
    try {
      ack = await sendOverSocket(Object.assign({}, payload, target));
    } catch (_) {
      const path = target.conversationId
        ? conversationPath(target.conversationId, "/messages")
        : "/api/messages/send/" + encodeURIComponent(target.to);
      return (await api(path, { method: "POST", body: payload })).data;
    }
    if (!ack.ok) throw Object.assign(new Error(ack.error.detail), { status: 400, data: { error: ack.error.detail, code: ack.error.code } });
    return ack.message;
  }

  // No answer at all (offline, the server down) or a server failure: worth trying again.
  function unreachable(error) {
    return !error.status || error.status >= 500;
  }

  // A reply, once sent, takes the reply bar away; a failed one keeps it, with the text.
  function sent(message, replying) {
    receiveMessage(message, false);
    clearPending();
    if (replying && state.composing === replying) stopComposing();
  }

  // The text goes back into the box, the reason under it.
  function sendFailed(text, reason) {
    $("composer-input").value = text;
    fitComposer();
    $("composer-error").textContent = reason;
  }

  function sendOverSocket(payload, event = "sendMessage") {
    return new Promise((resolve, reject) => {
      if (!state.socket || !state.socket.connected) return reject(new Error("offline"));
      state.socket.timeout(5000).emit(event, payload, (err, ack) => (err ? reject(new Error("timeout")) : resolve(ack)));
    });
  }

  // ---- attachments: picked, dropped or pasted; uploaded at once ---------------------------

  let pendingKeys = 0;

  function addFiles(fileList) {
    const files = [...fileList];
    if (!files.length || !(state.activeConversation || state.activePeer)) return;
    $("composer-error").textContent = "";
    for (const file of files) {
      if (state.pending.length >= MAX_FILES) {
        $("composer-error").textContent = "A message carries at most " + MAX_FILES + " files.";
        break;
      }
      const entry = { key: ++pendingKeys, file, progress: 0, attachment: null, error: null, request: null, preview: null };
      if (file.type.startsWith("image/")) entry.preview = URL.createObjectURL(file);
      state.pending.push(entry);
      upload(entry, true);
    }
    renderPending();
  }

  // One file, as multipart/form-data, with XMLHttpRequest: fetch() reports no upload progress.
  function upload(entry, retry) {
    const request = new XMLHttpRequest();
    entry.request = request;
    request.open("POST", "/api/attachments");
    request.setRequestHeader("Accept", "application/json");
    request.upload.addEventListener("progress", (event) => {
      if (!event.lengthComputable) return;
      entry.progress = event.loaded / event.total;
      renderPending();
    });
    request.addEventListener("load", async () => {
      let data = null;
      try {
        data = JSON.parse(request.responseText);
      } catch (error) {
        data = null;
      }
      if (request.status === 401 && retry && data && data.code === "token_expired" && (await refreshSession())) {
        return upload(entry, false);
      }
      if (request.status === 401) sessionLost();
      if (request.status === 201) {
        entry.attachment = data;
        entry.progress = 1;
      } else {
        const reason = (data && UPLOAD_ERRORS[data.code]) || "could not be uploaded";
        entry.error = entry.file.name + " " + reason + ".";
      }
      renderPending();
    });
    request.addEventListener("error", () => {
      entry.error = entry.file.name + " could not be uploaded: the connection failed.";
      renderPending();
    });
    const form = new FormData();
    form.append("file", entry.file, entry.file.name);
    request.send(form);
  }

  function removePending(entry) {
    if (entry.request && !entry.attachment && !entry.error) entry.request.abort();
    if (entry.preview) URL.revokeObjectURL(entry.preview);
    state.pending = state.pending.filter((p) => p !== entry);
    renderPending();
  }

  // After a send, or when the conversation changes (an upload never sent is deleted after a day).
  function clearPending() {
    for (const entry of [...state.pending]) removePending(entry);
  }

  function renderPending() {
    const list = $("pending-files");
    list.hidden = !state.pending.length;
    list.replaceChildren(
      ...state.pending.map((entry) => {
        const li = el("li", "pending-file" + (entry.error ? " failed" : entry.attachment ? " ready" : ""));
        li.dataset.name = entry.file.name;
        if (entry.preview) {
          const img = el("img", "pending-thumb");
          img.src = entry.preview;
          img.alt = "";
          li.append(img);
        } else {
          li.append(el("span", "file-icon", "📄"));
        }
        const text = el("span", "pending-text");
        text.append(el("span", "file-name", entry.file.name), el("span", "file-size", entry.error || fileSize(entry.file.size)));
        li.append(text);
        if (!entry.attachment && !entry.error) {
          const bar = el("progress", "upload-progress");
          bar.max = 1;
          bar.value = entry.progress;
          bar.setAttribute("aria-label", "Uploading " + entry.file.name);
          li.append(bar);
        }
        const remove = el("button", "close", "×");
        remove.type = "button";
        remove.setAttribute("aria-label", "Remove " + entry.file.name);
        remove.addEventListener("click", () => removePending(entry));
        li.append(remove);
        return li;
      })
    );
  }

  function fileSize(bytes) {
    if (bytes < 1024) return bytes + " B";
    if (bytes < 1024 * 1024) return Math.round(bytes / 1024) + " KB";
    return (bytes / (1024 * 1024)).toFixed(1) + " MB";
  }

  // Files load with the access cookie, as any <img> or link of the page. One that fails (the
  // cookie expired while the page sat idle, or the file is gone) is asked for once more after
  // a refresh of the session; after that it stays missing.
  function showFile(img, url, onMissing) {
    img.addEventListener("error", async function retry() {
      img.removeEventListener("error", retry);
      img.addEventListener("error", onMissing, { once: true });
      if (await refreshSession()) img.src = url;
      else onMissing();
    });
    img.src = url;
  }

  // Images as thumbnails (opening the viewer), other files as chips with their name and size.
  function attachmentList(m) {
    const box = el("div", "attachments");
    for (const a of m.attachments) {
      if (a.thumbnailUrl) {
        const button = el("button", "attachment-image");
        button.type = "button";
        button.setAttribute("aria-label", "Show " + a.name);
        const img = el("img");
        img.alt = a.name;
        // Room kept at the thumbnail's shape, so the list doesn't jump as images arrive.
        const scale = Math.min(1, 240 / Math.max(a.width, a.height));
        img.width = Math.max(1, Math.round(a.width * scale));
        img.height = Math.max(1, Math.round(a.height * scale));
        showFile(img, a.thumbnailUrl, () => img.classList.add("missing"));
        button.append(img);
        button.addEventListener("click", (event) => {
          event.stopPropagation();
          openViewer(a);
        });
        box.append(button);
      } else {
        const chip = el("a", "file-chip");
        chip.href = a.url;
        chip.download = a.name;
        chip.title = "Download " + a.name;
        chip.append(el("span", "file-icon", "📄"), el("span", "file-name", a.name), el("span", "file-size", fileSize(a.size)));
        chip.addEventListener("click", (event) => event.stopPropagation());
        box.append(chip);
      }
    }
    return box;
  }

  function openViewer(a) {
    // A new <img> each time: the listeners of showFile belong to one file.
    const image = el("img");
    image.id = "viewer-image";
    image.alt = a.name;
    $("viewer-image").replaceWith(image);
    $("viewer-name").textContent = a.name + " · " + fileSize(a.size);
    $("viewer").showModal();
    showFile(image, a.url, () => ($("viewer-name").textContent = a.name + " is no longer available."));
  }

  function attachmentSummary(m) {
    if (!m.attachments || !m.attachments.length) return "";
    if (m.attachments.length > 1) return "📎 " + m.attachments.length + " files";
    return (m.attachments[0].thumbnailUrl ? "📷 " : "📎 ") + m.attachments[0].name;
  }

  // ---- message actions: reply, edit, delete, react ---------------------------------------

  function messagePath(messageId, rest) {
    return "/api/messages/" + encodeURIComponent(messageId) + (rest || "");
  }

  // One action over the socket, or the REST API when the socket is down or slow (repeating an
  // action changes nothing, so a retry is safe). Resolves with the message as it is now;
  // rejects with an error that carries the server's `code`.
  async function act(event, payload, method, path, body) {
    let ack;
    try {
      ack = await sendOverSocket(payload, event);
    } catch (_) {
      try {
        return (await api(path, { method, body })).data;
      } catch (error) {
        throw Object.assign(new Error(formError(error)), { code: error.data && error.data.code });
      }
    }
    if (!ack.ok) throw Object.assign(new Error(ack.error.detail), { code: ack.error.code });
    return ack.message;
  }

  function actionErrorText(error) {
    const code = error.code || (error.data && error.data.code);
    return ACTION_ERRORS[code] || (error.data ? formError(error) : error.message);
  }

  function messageById(conversationId, messageId) {
    return [...messagesOf(conversationId).values()].find((m) => m._id === messageId) || null;
  }

  // Mine to edit and delete: written by me, not a system line, not deleted or hidden.
  function canChange(m) {
    return m.senderId === state.me._id && !m.system && !m.deleted && !m.hidden;
  }

  function resetMessageUi() {
    if (state.composing) stopComposing();
    state.menu = state.actionError = state.highlightSeq = null;
  }

  // The menu of a message: a row under it, drawn by renderMessages from state.menu.
  function openMenu(seq, mode) {
    state.menu = { seq, mode: mode || "actions" };
    state.actionError = null;
    renderMessages(false);
    const tools = $("messages").querySelector(".message-tools");
    if (!tools) return;
    tools.scrollIntoView({ block: "nearest" });
    // The safe choice first: "No" when asking to delete.
    (tools.querySelector("[data-default]") || tools.querySelector("button")).focus();
  }

  function closeMenu(returnFocus) {
    const seq = state.menu && state.menu.seq;
    state.menu = null;
    renderMessages(false);
    if (returnFocus) focusByKey(seq + ":menu");
  }

  function toggleMenu(seq) {
    if (state.menu && state.menu.seq === seq) closeMenu(true);
    else openMenu(seq);
  }

  // A refusal shows under the message it concerns, until the next action.
  function actionFailed(seq, error) {
    state.actionError = { seq, text: actionErrorText(error) };
    renderMessages(false);
  }

  async function deleteMessage(m) {
    closeMenu(false);
    try {
      receiveMessage(await act("deleteMessage", { messageId: m._id }, "DELETE", messagePath(m._id)), false);
    } catch (error) {
      actionFailed(m.seq, error);
    }
  }

  // A reaction is a toggle: a second press takes mine back.
  async function toggleReaction(m, emoji) {
    const had = (m.reactions || []).some((r) => r.emoji === emoji && r.userIds.includes(state.me._id));
    const event = had ? "unreact" : "react";
    try {
      const path = messagePath(m._id, "/reactions/" + encodeURIComponent(emoji));
      receiveMessage(await act(event, { messageId: m._id, emoji }, had ? "DELETE" : "POST", path), false);
    } catch (error) {
      actionFailed(m.seq, error);
    }
  }

  function startReply(m) {
    if (state.composing) stopComposing();
    state.composing = { mode: "reply", conversationId: state.activeConversation, messageId: m._id, seq: m.seq, senderId: m.senderId };
    renderComposerBar();
    $("composer-input").focus();
  }

  // Editing borrows the composer: what was typed there comes back afterwards.
  function startEdit(m) {
    if (state.composing) stopComposing();
    const input = $("composer-input");
    state.composing = { mode: "edit", conversationId: state.activeConversation, messageId: m._id, seq: m.seq, senderId: m.senderId, text: m.message, draft: input.value };
    stopTyping();
    input.value = m.message;
    fitComposer();
    $("composer-error").textContent = "";
    renderComposerBar();
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
  }

  function stopComposing() {
    const composing = state.composing;
    state.composing = null;
    if (composing && composing.mode === "edit") $("composer-input").value = composing.draft;
    fitComposer();
    $("composer-error").textContent = "";
    renderComposerBar();
  }

  async function saveEdit(editing) {
    if (editing.saving) return;
    const text = $("composer-input").value;
    if (!text.trim()) return ($("composer-error").textContent = "A message can't be empty: delete it instead.");
    if (text.trim() === editing.text) return stopComposing();
    editing.saving = true;
    $("composer-error").textContent = "";
    try {
      const body = { message: text };
      const message = await act("editMessage", { messageId: editing.messageId, message: text }, "PATCH", messagePath(editing.messageId), body);
      receiveMessage(message, false);
      if (state.composing === editing) stopComposing();
    } catch (error) {
      if (state.composing === editing) $("composer-error").textContent = actionErrorText(error);
    } finally {
      editing.saving = false;
    }
  }

  // The message being edited or answered changed elsewhere (another tab, a moderator).
  function composingTargetChanged(message) {
    const editing = state.composing.mode === "edit";
    if (editing && (message.deleted || message.hidden)) {
      stopComposing();
      $("composer-error").textContent = ACTION_ERRORS[message.deleted ? "message_deleted" : "message_hidden"];
      return;
    }
    if (editing) state.composing.text = message.message;
    renderComposerBar();
  }

  // "Editing message" or "Replying to Ana: first words…" above the composer.
  function renderComposerBar() {
    const composing = state.composing;
    const editing = composing && composing.mode === "edit";
    $("composer-context").hidden = !composing;
    $("composer-send").textContent = editing ? "Save" : "Send";
    if (!composing) return;
    $("context-cancel").setAttribute("aria-label", editing ? "Cancel editing" : "Cancel reply");
    if (editing) {
      $("context-title").textContent = "Editing message";
      $("context-preview").textContent = "";
      return;
    }
    const original = messagesOf(composing.conversationId).get(composing.seq);
    $("context-title").textContent = "Replying to " + nameOf(composing.senderId) + ": ";
    $("context-preview").textContent = original ? shortText(quoteText(original), 60) : "";
  }

  function shortText(text, length) {
    const chars = Array.from(text);
    return chars.length > length ? chars.slice(0, length).join("").trimEnd() + "…" : text;
  }

  // What a quote says: the start of the text, or what became of the message.
  function quoteText(m) {
    if (m.deleted) return "deleted message";
    if (m.hidden) return "hidden message";
    return m.message || attachmentSummary(m);
  }

  // A quote leads to the message it answers, and a search hit to the message found: among those
  // loaded, else in older pages (at most JUMP_PAGES of them: a quote has the id, not the seq, so
  // there is no aiming for it). `tooFar` says what to do when it is further back than that.
  async function jumpTo(messageId, tooFar) {
    const conversationId = state.activeConversation;
    for (let pages = 0; isActive(conversationId); pages++) {
      const found = messageById(conversationId, messageId);
      if (found) return highlight(found.seq);
      if (pages >= JUMP_PAGES || !hasOlder(conversationId)) break;
      try {
        await loadOlder();
      } catch (_) {
        break;
      }
    }
    if (isActive(conversationId)) $("composer-error").textContent = tooFar;
  }

  function highlight(seq) {
    state.highlightSeq = seq;
    renderMessages(false);
    const target = $("messages").querySelector('.message[data-seq="' + seq + '"]');
    if (target) target.scrollIntoView({ block: "center", behavior: "smooth" });
    setTimeout(() => {
      if (state.highlightSeq !== seq) return;
      state.highlightSeq = null;
      const still = $("messages").querySelector('.message[data-seq="' + seq + '"]');
      if (still) still.classList.remove("highlight");
    }, 2000);
  }

  function focusByKey(key) {
    const target = [...$("messages").querySelectorAll("[data-focus]")].find((node) => node.dataset.focus === key);
    if (target) target.focus();
  }

  // Escape closes a menu first, then leaves editing or replying, then closes the search results.
  function onKeydown(event) {
    // A dialog closes itself on Escape; what is behind it stays as it is.
    if (event.key !== "Escape" || document.querySelector("dialog[open]")) return;
    if (state.menu) {
      event.preventDefault();
      closeMenu(true);
    } else if (state.composing && document.activeElement === $("composer-input")) {
      event.preventDefault();
      stopComposing();
    } else if (state.search || $("message-search-input").value) {
      event.preventDefault();
      closeSearch();
    }
  }

  // A click anywhere but a menu (or the button that opens it) closes it.
  function onDocumentClick(event) {
    if (!state.menu || event.target.closest(".message-tools, .actions-button")) return;
    closeMenu(false);
  }

  // ---- message search --------------------------------------------------------------------

  // Typing searches once it pauses; Enter searches at once. Emptying the box closes the results.
  function onSearchInput() {
    clearTimeout(state.searchTimer);
    if (!$("message-search-input").value.trim()) return closeSearch();
    state.searchTimer = setTimeout(runSearch, SEARCH_DELAY);
  }

  function onSearchSubmit(event) {
    event.preventDefault();
    clearTimeout(state.searchTimer);
    runSearch();
  }

  // A new search from its first page: in the open conversation only while "Only in …" is ticked.
  function runSearch() {
    const q = $("message-search-input").value.trim();
    if (!q) return;
    const scoped = $("search-scope-box").checked && state.activeConversation;
    state.search = { q, conversationId: scoped || null, hits: [], cursor: null, hasMore: false, loading: false, error: null, openedId: null };
    fetchHits(state.search);
  }

  function loadMoreHits() {
    const search = state.search;
    if (search && search.hasMore && !search.loading) fetchHits(search);
  }

  // The next page of `search` (after its cursor, if it has one), appended to its hits.
  async function fetchHits(search) {
    const params = new URLSearchParams({ q: search.q, limit: String(SEARCH_PAGE) });
    if (search.conversationId) params.set("conversationId", search.conversationId);
    if (search.cursor) params.set("before", search.cursor);
    search.loading = true;
    search.error = null;
    renderSearch();
    try {
      const { data } = await api("/api/search?" + params);
      search.hits.push(...data.hits);
      search.cursor = data.cursor;
      search.hasMore = data.hasMore;
    } catch (error) {
      search.error = SEARCH_ERRORS[error.data && error.data.code] || formError(error);
    } finally {
      search.loading = false;
    }
    if (state.search === search) renderSearch();
  }

  function closeSearch() {
    clearTimeout(state.searchTimer);
    // Keyboard users in the results go back to the box, not to the top of the page.
    const wasInPanel = $("search-panel").contains(document.activeElement);
    state.search = null;
    $("message-search-input").value = "";
    renderSearch();
    if (wasInPanel) $("message-search-input").focus();
  }

  // The results replace the list of people and groups while they are shown.
  function renderSearch() {
    const search = state.search;
    $("search-panel").hidden = !search;
    $("contacts").hidden = Boolean(search);
    if (!search) return;
    renderSearchScope(search);
    // Redrawing replaces the buttons: keep the keyboard on the hit it was on.
    const list = $("search-hits");
    const focused = list.contains(document.activeElement) ? document.activeElement.dataset.id : null;
    list.replaceChildren(...search.hits.map((hit) => hitRow(hit, search)));
    if (focused) {
      const again = [...list.querySelectorAll(".hit")].find((node) => node.dataset.id === focused);
      if (again) again.focus();
    }
    $("search-status").textContent = searchStatus(search);
    $("search-status").classList.toggle("error", Boolean(search.error));
    $("search-more").hidden = !search.hasMore;
    $("search-more").disabled = search.loading;
  }

  function searchStatus(search) {
    if (search.error) return search.error;
    if (search.loading) return "Searching…";
    return search.hits.length ? "" : "No messages found";
  }

  // "Only in <name>": offered while a conversation is open, and ticked while the results are
  // those of one conversation.
  function renderSearchScope(search) {
    const c = state.conversations.get(search.conversationId || state.activeConversation);
    $("search-scope").hidden = !c;
    $("search-scope-box").checked = Boolean(search.conversationId);
    $("search-scope-name").textContent = c ? conversationName(c) : "";
  }

  // A hit: where it was said, by whom and when, and the text with the words found marked.
  function hitRow(hit, search) {
    const m = hit.message;
    const li = el("li");
    const button = el("button", "hit" + (search.openedId === m._id ? " active" : ""));
    button.type = "button";
    button.dataset.id = m._id;
    const head = el("span", "hit-head");
    head.append(el("span", "hit-where", hitPlace(hit)), el("span", "hit-when", whenText(m.createdAt)));
    const text = el("span", "hit-text");
    text.append(el("span", "hit-sender", (m.senderId === state.me._id ? "You" : nameOf(m.senderId)) + ": "), ...marked(m.message, hit.ranges));
    button.append(head, text);
    button.addEventListener("click", () => openHit(hit));
    li.append(button);
    return li;
  }

  // The group's name, or the other person's in a direct conversation. Known conversations are
  // named as the page knows them now (a group may have been renamed since the search).
  function hitPlace(hit) {
    const c = state.conversations.get(hit.conversation._id);
    if (c) return conversationName(c);
    return hit.conversation.kind === "group" ? hit.conversation.title : nameOf(peerOf(hit.message));
  }

  function conversationName(c) {
    return c.kind === "group" ? c.title : nameOf(c.peerId);
  }

  // Today's hits by the time, older ones by the day.
  function whenText(iso) {
    const date = new Date(iso);
    const now = new Date();
    if (date.toDateString() === now.toDateString()) return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    const options = { day: "numeric", month: "short" };
    if (date.getFullYear() !== now.getFullYear()) options.year = "numeric";
    return date.toLocaleDateString([], options);
  }

  // The text as text nodes (append() makes them from strings: nothing is parsed as HTML), with
  // each found word in a <mark>. The ranges count UTF-16 code units, which is what JavaScript
  // string indexes are, so slice() cuts exactly at them; the clamping only guards against a
  // range a later edit left outside the text.
  function marked(text, ranges) {
    const from = excerptStart(text, ranges);
    const nodes = from > 0 ? ["…"] : [];
    let at = from;
    ranges.forEach(([start, end]) => {
      start = Math.max(start, at);
      end = Math.min(end, text.length);
      if (end <= start) return;
      if (start > at) nodes.push(text.slice(at, start));
      nodes.push(el("mark", null, text.slice(start, end)));
      at = end;
    });
    nodes.push(text.slice(at));
    return nodes;
  }

  // A hit shows three lines: a long message whose first word found is far in starts a few words
  // before it (at a space, else not inside a surrogate pair), so the word is in sight.
  function excerptStart(text, ranges) {
    const first = ranges.length ? ranges[0][0] : 0;
    if (first <= 60) return 0;
    const start = first - 40;
    const space = text.slice(start, first).search(/\s/);
    if (space >= 0) return start + space + 1;
    const code = text.charCodeAt(start);
    return code >= 0xdc00 && code <= 0xdfff ? start + 1 : start;
  }

  // A hit opens its conversation (unless it is open already) and goes to the message there, as
  // a reply's quote does. The results stay for the next hit; on a phone, ← leads back to them.
  async function openHit(hit) {
    const search = state.search;
    const conversationId = hit.conversation._id;
    if (!state.conversations.has(conversationId)) {
      search.error = "You are no longer in that conversation.";
      return renderSearch();
    }
    search.openedId = hit.message._id;
    renderSearch();
    try {
      if (!isActive(conversationId)) await openConversation(conversationId);
    } catch (error) {
      $("composer-error").textContent = formError(error);
      return;
    }
    if (isActive(conversationId)) jumpTo(hit.message._id, "This message is further back: scroll up to find it.");
  }

  // A message among the results changed: a deleted or hidden one leaves them; an edited one
  // shows its new text, unmarked (the words found may have moved or gone) until the next search.
  function refreshHit(message) {
    const search = state.search;
    const index = search ? search.hits.findIndex((hit) => hit.message._id === message._id) : -1;
    if (index < 0 || !isNewer(message, search.hits[index].message)) return;
    if (message.deleted || message.hidden) return dropHits((hit) => hit.message._id === message._id);
    const hit = search.hits[index];
    const ranges = message.message === hit.message.message ? hit.ranges : [];
    search.hits[index] = Object.assign({}, hit, { message, ranges });
    renderSearch();
  }

  function dropHits(which) {
    if (!state.search) return;
    state.search.hits = state.search.hits.filter((hit) => !which(hit));
    renderSearch();
  }

  // ---- typing ----------------------------------------------------------------------------

  function onInput() {
    const conversationId = state.activeConversation;
    if (!conversationId || !state.socket || !state.socket.connected) return;
    if (state.composing && state.composing.mode === "edit") return; // mending a message is not typing one
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
    renderSearch(); // names of people and groups
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
    const items = rows.map((row) => (row.user ? personRow(row.user, row.conversation) : groupRow(row.conversation)));
    // Redrawing replaces the rows: keep the keyboard on the one it was on.
    const list = $("contacts");
    const focused = list.contains(document.activeElement) ? rowKey(document.activeElement) : null;
    list.replaceChildren(...(items.length ? items : [contactsEmpty(query)]));
    const again = focused && items.find((li) => rowKey(li) === focused);
    if (again) again.focus();
  }

  function rowKey(li) {
    return li.dataset.peer || li.dataset.conversation || null;
  }

  function personRow(user, conversation) {
    const active = state.activePeer === user._id;
    const li = el("li", "contact" + (active ? " active" : ""));
    li.dataset.peer = user._id;
    li.append(avatarWithDot(user), rowText(user.fullName || user.username, null, preview(conversation, "@" + user.username)));
    if (conversation && conversation.unreadCount > 0 && !active) li.append(el("span", "badge", String(conversation.unreadCount)));
    openOnActivate(li, () => openPeer(user._id), active);
    return li;
  }

  function groupRow(c) {
    const active = isActive(c._id);
    const li = el("li", "contact group" + (active ? " active" : ""));
    li.dataset.conversation = c._id;
    li.append(groupAvatar(c), rowText(c.title, memberCount(c), preview(c, "No messages yet")));
    if (c.unreadCount > 0 && !active) li.append(el("span", "badge", String(c.unreadCount)));
    openOnActivate(li, () => openConversation(c._id), active);
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
    const body = last.deleted ? "message deleted" : last.hidden ? "message hidden" : last.message || attachmentSummary(last);
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
      // A person we have no conversation with yet: nothing said, perhaps a message that failed.
      list.replaceChildren(...(state.activePeer ? [conversationEmpty(null), ...failedRows()] : []));
      updateJumpButton();
      return;
    }
    const atEnd = !awayFromEnd(40);
    // Redrawing replaces the buttons: keep the keyboard where it was.
    const focused = list.contains(document.activeElement) ? document.activeElement.dataset.focus : null;
    const messages = [...messagesOf(c._id).values()].sort((a, b) => a.seq - b.seq);
    if (state.menu && !messages.some((m) => m.seq === state.menu.seq && hasActions(m))) state.menu = null;
    const unreadSeq = firstUnreadSeq(c, messages);
    list.replaceChildren(
      ...messages.flatMap((m, i) => {
        const previous = messages[i - 1];
        const rows = [];
        if (!previous || dayOf(previous) !== dayOf(m)) rows.push(daySeparator(m.createdAt));
        if (m.seq === unreadSeq) rows.push(unreadDivider());
        if (m.system) return rows.concat(systemLine(m));
        // A run of messages from one person close in time sits together; in a group, it is
        // headed by their name.
        const joined = sameRun(previous, m) && m.seq !== unreadSeq;
        const run = { joined, more: sameRun(m, messages[i + 1]) && messages[i + 1].seq !== unreadSeq };
        rows.push(bubble(m, c, c.kind === "group" && !joined, run));
        if (state.menu && state.menu.seq === m.seq) rows.push(messageTools(m));
        if (state.actionError && state.actionError.seq === m.seq) rows.push(actionErrorRow(m));
        return rows;
      }),
      ...(messages.length || c.lastSeq ? [] : [conversationEmpty(c)]),
      ...failedRows()
    );
    if (scrollToEnd || atEnd) list.scrollTop = list.scrollHeight;
    if (scrollToEnd) showUnreadStart();
    if (focused) focusByKey(focused);
    updateJumpButton();
  }

  // "Ana added Ben": the server's own words, centred between the messages.
  function systemLine(m) {
    const li = el("li", "system-line", m.message);
    li.dataset.seq = m.seq;
    return li;
  }

  // Deleted and hidden messages keep their place, as a line in italics with no actions.
  function hasActions(m) {
    return !m.system && !m.deleted && !m.hidden;
  }

  function bubble(m, c, named, run) {
    const mine = m.senderId === state.me._id;
    const gone = m.deleted ? " deleted-msg" : m.hidden ? " hidden-msg" : "";
    const li = el("li", "message" + (mine ? " mine" : "") + gone + (state.highlightSeq === m.seq ? " highlight" : ""));
    if (run && run.joined) li.classList.add("run-next");
    if (run && run.more) li.classList.add("run-more");
    li.dataset.seq = m.seq;
    li.dataset.id = m._id;
    if (named && !mine) li.append(el("div", "sender", nameOf(m.senderId)));
    if (m.replyTo && !gone) li.append(quote(m.replyTo));
    if (!gone && m.attachments && m.attachments.length) li.append(attachmentList(m));
    if (gone || m.message) li.append(el("span", "body", m.deleted ? "This message was deleted." : m.hidden ? "This message was hidden by a moderator." : m.message));
    if (!gone && m.reactions && m.reactions.length) li.append(reactionChips(m));
    li.append(meta(m, c, mine, !gone && m.editedAt));
    if (hasActions(m)) {
      li.append(actionsButton(m));
      li.addEventListener("click", (event) => onBubbleTap(event, m));
      li.addEventListener("contextmenu", (event) => onLongPress(event, m));
    }
    return li;
  }

  function meta(m, c, mine, edited) {
    const line = el("span", "meta");
    if (edited) {
      const marker = el("span", "edited", "edited");
      marker.title = "edited " + new Date(m.editedAt).toLocaleString();
      line.append(marker, " ");
    }
    line.append(new Date(m.createdAt).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
    if (mine) line.append(c.kind === "group" ? groupTicks(m, c) : directTicks(m, c));
    return line;
  }

  // Where menus are opened by touch (no hover): a tap on a message opens its menu, and so does
  // a long press (Chrome's contextmenu), instead of the browser's own menu.
  function touchLayout() {
    return window.matchMedia("(hover: none)").matches;
  }

  function onBubbleTap(event, m) {
    if (!touchLayout() || event.target.closest("button")) return;
    event.stopPropagation(); // not a click outside the menu
    toggleMenu(m.seq);
  }

  function onLongPress(event, m) {
    if (!touchLayout()) return;
    event.preventDefault();
    openMenu(m.seq);
  }

  // "⋯" beside the message: shown on hover or focus (always, on a narrow screen).
  function actionsButton(m) {
    const open = state.menu && state.menu.seq === m.seq;
    const button = el("button", "actions-button", "⋯");
    button.type = "button";
    button.dataset.focus = m.seq + ":menu";
    button.setAttribute("aria-label", "Message actions");
    button.setAttribute("aria-haspopup", "true");
    button.setAttribute("aria-expanded", String(Boolean(open)));
    button.addEventListener("click", () => toggleMenu(m.seq));
    return button;
  }

  function toolButton(m, key, text, label, onClick) {
    const button = el("button", "tool " + key, text);
    button.type = "button";
    button.dataset.focus = m.seq + ":" + key;
    if (label) button.setAttribute("aria-label", label);
    button.addEventListener("click", onClick);
    return button;
  }

  // The row under a message while its menu is open: the actions, the emoji to react with, or
  // the question before deleting.
  function messageTools(m) {
    const mine = m.senderId === state.me._id;
    const li = el("li", "message-tools" + (mine ? " mine" : ""));
    li.setAttribute("role", "group");
    const mode = state.menu.mode;
    if (mode === "react") {
      li.setAttribute("aria-label", "React to the message");
      li.append(...EMOJI.map(([emoji, name]) => emojiButton(m, emoji, name)));
    } else if (mode === "delete") {
      li.setAttribute("aria-label", "Delete the message?");
      const no = toolButton(m, "no", "No", "No, keep it", () => closeMenu(true));
      no.dataset.default = "";
      li.append(el("span", "confirm-text", "Delete for everyone?"), toolButton(m, "yes", "Yes, delete", null, () => deleteMessage(m)), no);
    } else {
      li.setAttribute("aria-label", "Message actions");
      li.append(
        toolButton(m, "reply", "Reply", "Reply to the message", () => {
          closeMenu(false);
          startReply(m);
        }),
        toolButton(m, "react", "React", "React to the message", () => openMenu(m.seq, "react"))
      );
      if (canChange(m)) {
        li.append(
          toolButton(m, "edit", "Edit", "Edit the message", () => {
            closeMenu(false);
            startEdit(m);
          }),
          toolButton(m, "delete", "Delete", "Delete the message", () => openMenu(m.seq, "delete"))
        );
      }
    }
    return li;
  }

  function emojiButton(m, emoji, name) {
    const mine = (m.reactions || []).some((r) => r.emoji === emoji && r.userIds.includes(state.me._id));
    const button = toolButton(m, "emoji-" + emoji, emoji, "React with " + name, () => {
      closeMenu(true);
      toggleReaction(m, emoji);
    });
    button.classList.add("emoji");
    button.setAttribute("aria-pressed", String(mine));
    return button;
  }

  function actionErrorRow(m) {
    const li = el("li", "action-error" + (m.senderId === state.me._id ? " mine" : ""), state.actionError.text);
    li.setAttribute("role", "alert");
    return li;
  }

  // The message a reply answers: who wrote it and how it starts; a click goes to it.
  function quote(replyTo) {
    const gone = replyTo.deleted || replyTo.hidden;
    const button = el("button", "quote");
    button.type = "button";
    button.setAttribute("aria-label", "Replying to " + nameOf(replyTo.senderId) + ": " + quoteText(replyTo) + ". Show it");
    button.append(el("span", "quote-name", nameOf(replyTo.senderId)), el("span", "quote-text" + (gone ? " gone" : ""), quoteText(replyTo)));
    button.addEventListener("click", () => jumpTo(replyTo._id, "The original message is further back: scroll up to find it."));
    return button;
  }

  // "👍 2" under the message, mine highlighted; a click adds or takes back my reaction.
  function reactionChips(m) {
    const row = el("div", "reactions");
    m.reactions.forEach((r) => {
      const mine = r.userIds.includes(state.me._id);
      const chip = el("button", "chip" + (mine ? " mine" : ""), r.emoji + " " + r.count);
      chip.type = "button";
      chip.dataset.focus = m.seq + ":chip-" + r.emoji;
      chip.title = r.emoji + " by " + reactors(r.userIds);
      chip.setAttribute("aria-pressed", String(mine));
      chip.setAttribute("aria-label", r.emoji + " " + r.count + ": " + reactors(r.userIds));
      chip.addEventListener("click", () => toggleReaction(m, r.emoji));
      row.append(chip);
    });
    return row;
  }

  function reactors(userIds) {
    const names = userIds.map((id) => (id === state.me._id ? "you" : nameOf(id)));
    return names.length > 1 ? names.slice(0, -1).join(", ") + " and " + names[names.length - 1] : names.join("");
  }

  // ✓ once sent, ✓✓ in another colour once read; named for screen readers.
  function directTicks(m, c) {
    const read = (c.readSeqs[c.peerId] || 0) >= m.seq;
    const ticks = el("span", "ticks" + (read ? " read" : ""), read ? "✓✓" : "✓");
    ticks.title = read ? "read" : "sent";
    ticks.setAttribute("role", "img");
    ticks.setAttribute("aria-label", read ? "Read" : "Sent");
    return ticks;
  }

  // ✓✓ once every other member has read it; the title counts who has.
  function groupTicks(m, c) {
    const others = c.memberIds.filter((id) => id !== state.me._id);
    const readBy = others.filter((id) => (c.readSeqs[id] || 0) >= m.seq).length;
    const all = others.length > 0 && readBy === others.length;
    const ticks = el("span", "ticks" + (all ? " read" : ""), all ? "✓✓" : "✓");
    ticks.title = "read by " + readBy + " of " + others.length;
    ticks.setAttribute("role", "img");
    ticks.setAttribute("aria-label", (all ? "Read" : "Sent") + ", " + ticks.title);
    return ticks;
  }

  // ---- the list of messages: days, runs, new messages, jump to latest ---------------------

  // Messages from one sender this close together (and on the same day) form a run.
  const RUN_GAP_MS = 5 * 60 * 1000;

  function dayOf(m) {
    return new Date(m.createdAt).toDateString();
  }

  function sameRun(a, b) {
    if (!a || !b || a.system || b.system || a.senderId !== b.senderId || dayOf(a) !== dayOf(b)) return false;
    return new Date(b.createdAt) - new Date(a.createdAt) < RUN_GAP_MS;
  }

  // "Today", "Yesterday", else the date ("Monday 3 March", with the year if it is not this one).
  function dayLabel(iso) {
    const date = new Date(iso);
    const today = new Date();
    const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
    if (date.toDateString() === today.toDateString()) return "Today";
    if (date.toDateString() === yesterday.toDateString()) return "Yesterday";
    const options = { weekday: "long", day: "numeric", month: "long" };
    if (date.getFullYear() !== today.getFullYear()) options.year = "numeric";
    return date.toLocaleDateString([], options);
  }

  function daySeparator(iso) {
    return el("li", "day-separator", dayLabel(iso));
  }

  // Opening a conversation with unread messages remembers where they start.
  function markUnreadStart(conversationId) {
    const c = state.conversations.get(conversationId);
    const keep = state.unreadMark && state.unreadMark.conversationId === conversationId;
    if (keep) return;
    state.unseen = 0;
    state.unreadMark = c && c.unreadCount > 0 ? { conversationId, seq: (c.readSeqs[state.me._id] || 0) + 1, shown: false } : null;
  }

  // The first unread message from someone else, if it is loaded (the line goes above it); none
  // while older unread messages are still to load: the line would be in the wrong place.
  function firstUnreadSeq(c, messages) {
    const mark = state.unreadMark;
    if (!mark || mark.conversationId !== c._id || !messages.length || messages[0].seq > mark.seq) return null;
    const first = messages.find((m) => m.seq >= mark.seq && m.senderId !== state.me._id);
    return first ? first.seq : null;
  }

  function unreadDivider() {
    return el("li", "unread-divider", "New messages");
  }

  // The first time the line shows, the list starts there if the unread messages don't all fit.
  function showUnreadStart() {
    const mark = state.unreadMark;
    const divider = $("messages").querySelector(".unread-divider");
    if (!mark || mark.shown || !divider) return;
    mark.shown = true;
    const list = $("messages");
    const top = divider.getBoundingClientRect().top - list.getBoundingClientRect().top;
    if (top < 0) list.scrollTop += top - 8;
  }

  function awayFromEnd(distance = 200) {
    const list = $("messages");
    return list.scrollHeight - list.scrollTop - list.clientHeight > distance;
  }

  // "Jump to latest" while the list is scrolled up, with how many messages came meanwhile.
  function updateJumpButton() {
    const away = Boolean(state.activeConversation) && awayFromEnd();
    if (!away) state.unseen = 0;
    $("jump-latest").hidden = !away;
    $("jump-count").hidden = !state.unseen;
    $("jump-count").textContent = state.unseen ? String(state.unseen) : "";
    $("jump-latest").setAttribute("aria-label", "Jump to latest" + (state.unseen ? ": " + state.unseen + " new" : ""));
  }

  function jumpToLatest() {
    const list = $("messages");
    list.scrollTop = list.scrollHeight;
    updateJumpButton();
    $("composer-input").focus();
  }

  // ---- empty states ---------------------------------------------------------------------

  function emptyState(tag, className, title, text) {
    const node = el(tag, className);
    node.append(el("strong", null, title), text);
    return node;
  }

  function contactsEmpty(query) {
    if (query) return emptyState("li", "contacts-empty", "Nobody found", "No person or group matches “" + query + "”.");
    return emptyState("li", "contacts-empty", "Nobody to talk to yet", "People show up here as they sign up. Share this page's address to invite someone.");
  }

  function conversationEmpty(c) {
    const name = c ? conversationName(c) : nameOf(state.activePeer);
    const text = c && c.kind === "group" ? "Say hello to everyone in " + name + "." : "Say hello to " + name + ": your first message starts the conversation.";
    return emptyState("li", "conversation-empty", "No messages yet", text);
  }

  // ---- messages that could not be sent ----------------------------------------------------

  let failedKeys = 0;

  function keepFailed(target, payload, text, files) {
    state.failed.push({ key: ++failedKeys, target, payload, text, files, reason: "the server can't be reached.", sending: false });
    renderMessages(true);
  }

  function failedHere(entry) {
    if (entry.target.conversationId) return isActive(entry.target.conversationId);
    return entry.target.to === state.activePeer;
  }

  function failedRows() {
    return state.failed.filter(failedHere).map(failedRow);
  }

  function failedRow(entry) {
    const li = el("li", "message mine failed");
    li.dataset.failed = entry.key;
    if (entry.text) li.append(el("span", "body", entry.text));
    if (entry.files) li.append(el("span", "meta", "📎 " + entry.files + (entry.files === 1 ? " file" : " files")));
    const status = el("span", "meta", entry.sending ? "Sending…" : "Not sent: " + entry.reason);
    status.setAttribute("role", "status");
    const tools = el("div", "failed-tools");
    const retry = el("button", "retry", "Retry");
    retry.type = "button";
    retry.disabled = entry.sending;
    retry.dataset.focus = "failed:" + entry.key;
    retry.addEventListener("click", () => retrySend(entry));
    const drop = el("button", "discard", "Discard");
    drop.type = "button";
    drop.disabled = entry.sending;
    drop.addEventListener("click", () => discardFailed(entry));
    tools.append(retry, drop);
    li.append(status, tools);
    return li;
  }

  async function retrySend(entry) {
    if (entry.sending) return;
    entry.sending = true;
    renderMessages(false);
    try {
      const message = await deliver(entry.target, entry.payload);
      state.failed = state.failed.filter((f) => f !== entry);
      receiveMessage(message, false);
      renderMessages(true);
      $("composer-input").focus();
    } catch (error) {
      entry.sending = false;
      entry.reason = unreachable(error) ? "the server can't be reached." : actionErrorText(error);
      renderMessages(false);
      focusByKey("failed:" + entry.key);
    }
  }

  function discardFailed(entry) {
    state.failed = state.failed.filter((f) => f !== entry);
    renderMessages(false);
    $("composer-input").focus();
  }

  // ---- keyboard ---------------------------------------------------------------------------

  // In the composer, Enter sends and Shift+Enter starts a new line (not while an input method
  // is composing a character).
  function onComposerKeydown(event) {
    if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
    event.preventDefault();
    $("composer").requestSubmit();
  }

  // The composer grows with its text, up to a few lines (then it scrolls).
  function fitComposer() {
    const input = $("composer-input");
    input.style.height = "";
    if (input.scrollHeight > input.clientHeight) input.style.height = Math.min(input.scrollHeight + 2, 160) + "px";
  }

  // A row of the sidebar opens with a click, or Enter or Space when it has the focus.
  function openOnActivate(li, open, active) {
    li.tabIndex = 0;
    if (active) li.setAttribute("aria-current", "true");
    li.addEventListener("click", open);
    li.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" && event.key !== " ") return;
      event.preventDefault();
      open();
    });
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

  // ---- errors next to the fields of a form ------------------------------------------------

  // Codes whose words belong next to one field (the server may also name it in `fields`).
  const FIELD_CODES = {
    username_taken: ["username", "That username is taken."],
    email_taken: ["email", "Another account uses that email address."],
  };
  const FORM_ERRORS = {
    rate_limited: "Too many tries at once: wait a moment and try again.",
    not_found: "This server can't do that yet.",
    method_not_allowed: "This server can't do that yet.",
  };

  // The server's field messages are written for any client ("Ensure this field has no more
  // than 30 characters."); next to the field they can say it more simply.
  const PLAIN_WORDS = [
    [/^This field (may not be blank|is required|may not be null)\.$/, () => "Fill this in."],
    [/^Ensure this (?:field|value) has no more than (\d+) characters\b/, (found) => "Use at most " + found[1] + " characters."],
    [/^Ensure this (?:field|value) has at least (\d+) characters\b/, (found) => "Use at least " + found[1] + " characters."],
    [/^".*" is not a valid choice\.$/, () => "Pick one of the choices."],
  ];

  function plainWords(message) {
    const text = String(message);
    for (const [pattern, words] of PLAIN_WORDS) {
      const found = text.match(pattern);
      if (found) return words(found);
    }
    return text;
  }

  function clearErrors(form) {
    form.querySelectorAll(".field-error, .form-error").forEach((p) => (p.textContent = ""));
    form.querySelectorAll("[aria-invalid]").forEach((input) => input.removeAttribute("aria-invalid"));
    const done = form.querySelector(".done");
    if (done) done.textContent = "";
  }

  // `message` under the field `name` of `form` (or under the whole form if it has no such
  // field); the field is marked invalid, which screen readers announce with the message.
  function fieldError(form, name, message) {
    const slot = form.querySelector('.field-error[data-field="' + name + '"]');
    if (!slot) return formMessage(form, message);
    slot.textContent = slot.textContent ? slot.textContent + " " + message : message;
    const input = form.elements[name];
    if (input) input.setAttribute("aria-invalid", "true");
  }

  function formMessage(form, message) {
    const slot = form.querySelector(".form-error") || $("auth-error");
    slot.textContent = slot.textContent ? slot.textContent + " " + message : message;
  }

  // A refused request's words where they belong: each field's under it, the rest under the
  // form. `codes` maps a code to the field it is about in this form (`wrong_password`).
  function showErrors(form, error, codes = {}) {
    const data = error.data || {};
    if (!error.status) return formMessage(form, "The server can't be reached: check the connection and try again.");
    if (data.fields && Object.keys(data.fields).length) {
      Object.entries(data.fields).forEach(([name, messages]) => fieldError(form, name, [].concat(messages).map(plainWords).join(" ")));
      return;
    }
    const field = codes[data.code] || (FIELD_CODES[data.code] || [])[0];
    const words = FORM_ERRORS[data.code] || (FIELD_CODES[data.code] || [])[1] || data.error || error.message;
    if (field) fieldError(form, field, words);
    else formMessage(form, words);
  }

  // ---- settings: profile, password, sessions, deleting the account -------------------------

  async function openSettings() {
    const dialog = $("settings-dialog");
    dialog.querySelectorAll("form").forEach((form) => {
      form.reset();
      clearErrors(form);
    });
    $("sessions-error").textContent = "";
    fillProfile(state.me);
    dialog.showModal();
    $("profile-form").elements.fullName.focus();
    loadSessions();
    try {
      const { data } = await api("/api/auth/me");
      showMe(data);
      if (dialog.open && !$("profile-form").contains(document.activeElement)) fillProfile(data);
    } catch (_) {
      /* the form shows what the page knew */
    }
  }

  function fillProfile(me) {
    const form = $("profile-form");
    form.elements.fullName.value = me.fullName || "";
    form.elements.gender.value = me.gender || "";
    form.elements.username.value = me.username || "";
    form.elements.email.value = me.email || "";
    // For password managers: which account the password fields belong to.
    $("password-form").elements.username.value = me.username || "";
    $("delete-form").elements.username.value = me.username || "";
  }

  function showMe(me) {
    state.me = Object.assign({}, state.me, me);
    $("me-name").textContent = state.me.fullName || state.me.username;
    if (me.profilePic) $("me-avatar").src = me.profilePic;
  }

  async function saveProfile(event) {
    event.preventDefault();
    const form = event.target;
    clearErrors(form);
    const body = {};
    for (const name of ["fullName", "gender", "username", "email"]) {
      const value = name === "gender" ? form.elements[name].value : form.elements[name].value.trim();
      if (value !== (state.me[name] || "")) body[name] = value;
    }
    if (body.email === "") body.email = null; // an emptied field removes the address
    if (!body.fullName && "fullName" in body) return fieldError(form, "fullName", "Type your name.");
    if (!body.username && "username" in body) return fieldError(form, "username", "Choose a username.");
    if (!Object.keys(body).length) return (form.querySelector(".done").textContent = "Nothing to save.");
    if ("email" in body) {
      // The server asks for the password: whoever holds a session must not redirect resets.
      body.currentPassword = form.elements.currentPassword.value;
      if (!body.currentPassword) {
        return fieldError(form, "currentPassword", "Type your password to change the email.");
      }
    }
    const button = form.querySelector("[type=submit]");
    button.disabled = true;
    try {
      const { data } = await api("/api/auth/me", { method: "PATCH", body });
      form.elements.currentPassword.value = "";
      showMe(data);
      fillProfile(state.me);
      form.querySelector(".done").textContent = "Saved.";
    } catch (error) {
      showErrors(form, error);
    } finally {
      button.disabled = false;
    }
  }

  async function changePassword(event) {
    event.preventDefault();
    const form = event.target;
    clearErrors(form);
    const body = {
      currentPassword: form.elements.currentPassword.value,
      newPassword: form.elements.newPassword.value,
      confirmPassword: form.elements.confirmPassword.value,
    };
    if (!body.currentPassword) return fieldError(form, "currentPassword", "Type your current password.");
    if (!body.newPassword) return fieldError(form, "newPassword", "Type a new password.");
    if (body.newPassword !== body.confirmPassword) return fieldError(form, "confirmPassword", "The two new passwords don't match.");
    const button = form.querySelector("[type=submit]");
    button.disabled = true;
    try {
      await api("/api/auth/password", { method: "POST", body });
      form.reset();
      fillProfile(state.me);
      form.querySelector(".done").textContent = "Password changed. You were logged out everywhere else.";
      loadSessions();
    } catch (error) {
      showErrors(form, error, { wrong_password: "currentPassword" });
    } finally {
      button.disabled = false;
    }
  }

  async function loadSessions() {
    const list = $("session-list");
    list.setAttribute("aria-busy", "true");
    try {
      const { data } = await api("/api/auth/sessions");
      // This device first, then the most recently used.
      data.sort((a, b) => b.current - a.current || String(b.lastUsedAt).localeCompare(String(a.lastUsedAt)));
      list.replaceChildren(...data.map(sessionRow));
      if (!data.length) list.append(el("li", "session-empty", "No sessions."));
    } catch (error) {
      list.replaceChildren();
      $("sessions-error").textContent = "The list of sessions can't be shown: " + formError(error);
    } finally {
      list.removeAttribute("aria-busy");
    }
  }

  function sessionRow(session) {
    const li = el("li", "session" + (session.current ? " current" : ""));
    li.dataset.session = session.id;
    const text = el("div", "session-text");
    const title = el("span", "session-device", deviceName(session.userAgent));
    if (session.current) title.append(el("span", "this-device", "This device"));
    text.append(
      title,
      el("span", "session-when", "Logged in " + when(session.createdAt) + " · last active " + when(session.lastUsedAt))
    );
    li.append(text);
    if (!session.current) {
      const end = el("button", "secondary", "Log out");
      end.type = "button";
      end.setAttribute("aria-label", "Log out " + deviceName(session.userAgent) + ", last active " + when(session.lastUsedAt));
      end.addEventListener("click", () => endSession(session, li, end));
      li.append(end);
    }
    return li;
  }

  async function endSession(session, li, button) {
    $("sessions-error").textContent = "";
    button.disabled = true;
    try {
      await api("/api/auth/sessions/" + encodeURIComponent(session.id), { method: "DELETE" });
      // Keyboard focus stays in the list: on the next row's button, or the list's heading.
      const next = li.nextElementSibling || li.previousElementSibling;
      li.remove();
      const target = next && next.querySelector("button");
      (target || $("sessions-title")).focus();
    } catch (error) {
      button.disabled = false;
      if (error.status === 404) li.remove(); // ended already
      else $("sessions-error").textContent = formError(error);
    }
  }

  // "Firefox on Linux" from a User-Agent header: enough to tell one's devices apart.
  function deviceName(userAgent) {
    const ua = userAgent || "";
    const browser =
      [["Edg/", "Edge"], ["OPR/", "Opera"], ["Firefox/", "Firefox"], ["Chrome/", "Chrome"], ["Chromium/", "Chromium"], ["Safari/", "Safari"]].find(([mark]) =>
        ua.includes(mark)
      ) || null;
    const system =
      [["Android", "Android"], ["iPhone", "iPhone"], ["iPad", "iPad"], ["Windows", "Windows"], ["Mac OS", "macOS"], ["CrOS", "ChromeOS"], ["Linux", "Linux"]].find(([mark]) =>
        ua.includes(mark)
      ) || null;
    if (browser && system) return browser[1] + " on " + system[1];
    if (browser || system) return (browser || system)[1];
    return ua ? ua.slice(0, 60) : "Unknown device";
  }

  function when(iso) {
    if (!iso) return "at an unknown time";
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return "at an unknown time";
    return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }

  async function deleteAccount(event) {
    event.preventDefault();
    const form = event.target;
    clearErrors(form);
    const password = form.elements.password.value;
    if (!password) return fieldError(form, "password", "Type your password to confirm.");
    const button = form.querySelector("[type=submit]");
    button.disabled = true;
    state.ending = "Your account was deleted.";
    try {
      await api("/api/auth/me", { method: "DELETE", body: { password } });
    } catch (error) {
      state.ending = null;
      showErrors(form, error, { wrong_password: "password" });
      button.disabled = false;
      return;
    }
    button.disabled = false;
    sessionLost("Your account was deleted.");
    // The server closes the account's sockets before it answers: the page may have found its
    // session ended already, without knowing why.
    $("auth-error").textContent = "Your account was deleted.";
  }

  // ---- wiring ----------------------------------------------------------------------------

  $("show-login").addEventListener("click", () => switchAuth(false));
  $("show-signup").addEventListener("click", () => switchAuth(true));
  $("login-form").addEventListener("submit", (e) => submitAuth(e, "/api/auth/login"));
  $("signup-form").addEventListener("submit", (e) => submitAuth(e, "/api/auth/signup"));
  $("logout").addEventListener("click", logout);
  $("show-forgot").addEventListener("click", showForgot);
  $("forgot-back").addEventListener("click", () => switchAuth(false));
  $("forgot-form").addEventListener("submit", requestReset);
  $("open-settings").addEventListener("click", openSettings);
  $("profile-form").addEventListener("submit", saveProfile);
  $("password-form").addEventListener("submit", changePassword);
  $("delete-form").addEventListener("submit", deleteAccount);
  $("search").addEventListener("input", renderContacts);
  $("message-search").addEventListener("submit", onSearchSubmit);
  $("message-search-input").addEventListener("input", onSearchInput);
  $("search-scope-box").addEventListener("change", runSearch);
  $("search-close").addEventListener("click", closeSearch);
  $("search-more").addEventListener("click", loadMoreHits);
  $("composer").addEventListener("submit", send);
  $("composer-input").addEventListener("input", onInput);
  $("composer-input").addEventListener("input", fitComposer);
  $("composer-input").addEventListener("keydown", onComposerKeydown);
  $("jump-latest").addEventListener("click", jumpToLatest);
  $("attach-button").addEventListener("click", () => $("attach-input").click());
  $("attach-input").addEventListener("change", (event) => {
    addFiles(event.target.files);
    event.target.value = ""; // the same file can be picked again
  });
  // Images copied to the clipboard (a screenshot) paste as files.
  $("composer-input").addEventListener("paste", (event) => {
    const files = event.clipboardData ? event.clipboardData.files : [];
    if (files.length) {
      event.preventDefault();
      addFiles(files);
    }
  });
  // Files dropped anywhere on the open conversation.
  $("conversation").addEventListener("dragover", (event) => {
    if (!event.dataTransfer || ![...event.dataTransfer.types].includes("Files")) return;
    event.preventDefault();
    $("conversation").classList.add("dropping");
  });
  $("conversation").addEventListener("dragleave", (event) => {
    if (!$("conversation").contains(event.relatedTarget)) $("conversation").classList.remove("dropping");
  });
  $("conversation").addEventListener("drop", (event) => {
    $("conversation").classList.remove("dropping");
    if (!event.dataTransfer || !event.dataTransfer.files.length) return;
    event.preventDefault();
    addFiles(event.dataTransfer.files);
  });
  $("context-cancel").addEventListener("click", () => {
    stopComposing();
    $("composer-input").focus();
  });
  document.addEventListener("keydown", onKeydown);
  document.addEventListener("click", onDocumentClick);
  $("back").addEventListener("click", () => closeConversation());
  $("messages").addEventListener("scroll", () => {
    if ($("messages").scrollTop < 60) loadOlder().catch(() => {});
    updateJumpButton();
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

  // Logged in already? The access cookie says (refreshed first if it expired).
  startChat().catch(() => showAuth());
})();
