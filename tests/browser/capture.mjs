// Capture in the browser with Chromium's fake camera and microphone
// (--use-fake-device-for-media-stream --use-fake-ui-for-media-stream): Alice records a voice
// note and a video and takes a photo; each goes up (tus), is transcoded on the server, and Bob
// plays the WebM (audio and video report a duration and play) and sees the photo.

import { run, newPage, register, unique, check, shot } from './common.mjs';

/** How long each recording runs: its length, not a wait for anything. */
const RECORD_MS = 1500;

await run(async (browser) => {
  const alice = await newPage(browser, 'alice', { permissions: ['microphone', 'camera'] });
  const bob = await newPage(browser, 'bob');
  const bobName = unique('bob');
  await register(alice, unique('alice'), 'Alice');
  await register(bob, bobName, 'Bob');
  await alice.click('#new-chat-button');
  await alice.fill('#people-search', bobName);
  await alice.locator(`#people-results li[data-user="${bobName}"] button`, { hasText: 'Chat' }).click();
  await alice.locator('#chat-title', { hasText: 'Bob' }).waitFor();
  await alice.locator('#composer-input').fill('Recording something');
  await alice.keyboard.press('Enter');
  await bob.locator('.room', { hasText: 'Alice' }).click();
  await bob.locator('#messages .msg .body', { hasText: 'Recording something' }).waitFor();

  async function record(button) {
    await alice.click(button);
    await alice.locator('#capture-record').waitFor();
    await alice.click('#capture-record');
    await alice.locator('#capture-state', { hasText: 'Recording' }).waitFor();
    await alice.waitForTimeout(RECORD_MS);
    await alice.click('#capture-stop');
    await alice.locator('#capture').waitFor({ state: 'hidden' });
  }

  /** Waits until Bob's player `selector` knows its duration, then plays it a little. */
  async function plays(selector) {
    await bob.locator(selector).waitFor();
    await bob.waitForFunction((sel) => {
      const m = document.querySelector(sel);
      return m && m.readyState >= 1 && Number.isFinite(m.duration) && m.duration > 0.5;
    }, selector);
    const played = await bob.evaluate(async (sel) => {
      const m = document.querySelector(sel);
      m.muted = true;
      await m.play();
      await new Promise((resolve) => m.addEventListener('timeupdate', resolve, { once: true }));
      return { t: m.currentTime, d: m.duration, src: m.currentSrc, w: m.videoWidth ?? 0 };
    }, selector);
    check(played.src.includes('/media/'), `${selector} plays from the server: ${played.src}`);
    return played;
  }

  await record('#voice-button');
  const voice = await plays('#messages .msg audio');
  check(voice.d < 10, `a voice note of about ${RECORD_MS} ms: ${voice.d} s`);

  await record('#video-button');
  const video = await plays('#messages .msg video');
  check(video.w > 0, `the video has a picture: ${video.w} px wide`);
  await shot(bob, 'capture-video.png');

  await alice.click('#photo-button');
  await alice.locator('#capture-shoot').waitFor();
  await alice.waitForFunction(() => document.querySelector('#capture-video').videoWidth > 0);
  await alice.click('#capture-shoot');
  await bob.locator('#messages .msg img').waitFor();
  await bob.waitForFunction(() => {
    const img = document.querySelector('#messages .msg img');
    return img && img.complete && img.naturalWidth > 0;
  });
}, { args: ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--autoplay-policy=no-user-gesture-required'] });
