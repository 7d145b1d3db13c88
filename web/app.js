/* global document, location, history, sessionStorage, URLSearchParams */
/**
 * The live-room page: one SDK client, the DOM updated in place. Everything
 * the server sends is written with textContent, never as HTML.
 */
import { connect } from '/sdk/roomcast.js';

/** Stream entries kept on the page; older ones are removed. */
const MAX_STREAM_ITEMS = 200;
const MAX_GIFT_ITEMS = 50;
const TOKEN_KEY = 'roomcast-token';

const $ = (id) => document.getElementById(id);
const stateView = $('state');
const streamView = $('stream');
const giftList = $('gift-list');
const spotlight = $('spotlight');
const chatForm = $('chat-form');
const chatInput = $('chat-input');
const notice = $('notice');
const numbers = new Intl.NumberFormat();

let client;

function setState(state, text) {
  stateView.dataset.state = state;
  stateView.textContent = text;
  const usable = state === 'open';
  chatInput.disabled = !usable;
  $('send-button').disabled = !usable;
  $('like-button').disabled = !usable;
}

function senderName(from) {
  return from?.name ?? from?.id ?? 'Someone';
}

function textOf(data) {
  if (typeof data === 'string') {
    return data;
  }

  if (typeof data?.text === 'string') {
    return data.text;
  }

  return data === undefined ? '' : JSON.stringify(data);
}

function addLine(className, who, text) {
  const line = document.createElement('li');
  line.className = className;
  if (who !== undefined) {
    const name = document.createElement('span');
    name.className = 'who';
    name.textContent = who;
    line.append(name);
  }

  line.append(text);
  const atBottom =
    streamView.scrollTop + streamView.clientHeight >=
    streamView.scrollHeight - 8;
  streamView.append(line);
  while (streamView.childElementCount > MAX_STREAM_ITEMS) {
    streamView.firstElementChild.remove();
  }

  if (atBottom) {
    streamView.scrollTop = streamView.scrollHeight;
  }
}

function giftText(item) {
  const data = item.data ?? {};
  const gift = data.name ?? data.gift ?? 'a gift';
  const count = item.combo?.total ?? item.seqs?.length ?? 1;
  const times = count > 1 ? ` ×${count}` : '';
  return `${senderName(item.from)} sent ${gift}${times}`;
}

function showGift(item) {
  const text = giftText(item);
  spotlight.textContent = text;
  spotlight.classList.remove('fresh');
  // Reading layout restarts the animation for back-to-back gifts.
  void spotlight.offsetWidth;
  spotlight.classList.add('fresh');
  const entry = document.createElement('li');
  entry.textContent = text;
  giftList.prepend(entry);
  while (giftList.childElementCount > MAX_GIFT_ITEMS) {
    giftList.lastElementChild.remove();
  }
}

function describeClose(event) {
  if (!event.willReconnect) {
    const why = {
      room_closed: 'The room has ended',
      kicked: 'You were removed from the room',
      banned: 'You are banned from this room',
      token_expired: 'Your token expired',
      token_rejected: 'This token is not valid here',
      client: 'Disconnected',
    }[event.reason];
    return why ?? `Disconnected (${event.reason})`;
  }

  const seconds = Math.ceil((event.reconnectInMs ?? 0) / 1000);
  return seconds > 0 ? `Reconnecting in ${seconds} s…` : 'Reconnecting…';
}

function start(token) {
  $('token-form').hidden = true;
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  client = connect({ url: `${scheme}//${location.host}/ws`, token });
  client.on('connecting', ({ attempt }) => {
    setState('connecting', attempt > 1 ? 'Reconnecting…' : 'Connecting…');
  });
  client.on('open', (event) => {
    $('room-title').textContent = `Room ${event.room}`;
    $('viewers').textContent = numbers.format(event.viewers);
    setState('open', 'Live');
    notice.textContent = '';
  });
  client.on('resumed', ({ replayed }) => {
    if (replayed > 0) {
      addLine('system', undefined, `Caught up on ${replayed} missed messages`);
    }
  });
  client.on('reset', () => {
    addLine('system', undefined, 'Some messages were missed while away');
  });
  client.on('closed', (event) => {
    setState(event.willReconnect ? 'waiting' : 'closed', describeClose(event));
    if (event.reason === 'token_expired' || event.reason === 'token_rejected') {
      // The page has no platform to ask for a new token: ask the viewer.
      sessionStorage.removeItem(TOKEN_KEY);
      $('token-form').hidden = false;
    }
  });
  client.on('error', (error) => {
    if (error.source === 'server') {
      notice.textContent = error.message;
    }
  });
  client.on('chat', (item) =>
    addLine('chat-line', senderName(item.from), item.text),
  );
  client.on('host', (item) => addLine('host', 'Host', textOf(item.data)));
  client.on('system', (item) =>
    addLine('system', undefined, textOf(item.data)),
  );
  client.on('gift', showGift);
  client.on('joins', (item) => {
    const names = item.names.join(', ');
    const more = item.count > item.names.length ? ' and others' : '';
    addLine('joins', undefined, `${names}${more} joined`);
  });
  client.on('likes', (item) => {
    $('likes').textContent = numbers.format(item.total);
  });
  client.on('viewers', (item) => {
    $('viewers').textContent = numbers.format(item.count);
  });
}

chatForm.addEventListener('submit', (event) => {
  event.preventDefault();
  try {
    client?.chat(chatInput.value);
    chatInput.value = '';
    notice.textContent = '';
  } catch (error) {
    notice.textContent = error.message;
  }
});

$('like-button').addEventListener('click', () => {
  try {
    client?.like(1);
  } catch (error) {
    notice.textContent = error.message;
  }
});

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const token = $('token-input').value.trim();
  if (token !== '') {
    sessionStorage.setItem(TOKEN_KEY, token);
    start(token);
  }
});

// A token in the URL is moved out of it (and out of the history) at once.
const params = new URLSearchParams(location.search);
const fromUrl = params.get('token');
if (fromUrl !== null) {
  sessionStorage.setItem(TOKEN_KEY, fromUrl);
  params.delete('token');
  const query = params.toString();
  history.replaceState(
    null,
    '',
    `${location.pathname}${query ? `?${query}` : ''}`,
  );
}

const token = sessionStorage.getItem(TOKEN_KEY);
if (token === null) {
  $('token-form').hidden = false;
  $('token-input').focus();
} else {
  start(token);
}
