// Photos, voice notes and videos captured in the browser (getUserMedia + MediaRecorder).
// `onFile(file)` gets the result, which the chat uploads and sends like any attachment.

import { $ } from './util.js';
import { notify, openPanel } from './dialogs.js';
import { t } from './i18n.js';

let stream = null;
let recorder = null;

function stopStream() {
  if (stream) for (const track of stream.getTracks()) track.stop();
  stream = null;
}

export function setupCapture(onFile) {
  const dialog = $('capture');
  const video = $('capture-video');
  const state = $('capture-state');
  const shoot = $('capture-shoot');
  const record = $('capture-record');
  const stop = $('capture-stop');
  let mode = 'photo';

  async function open(kind) {
    mode = kind;
    $('capture-title').textContent = { photo: t('composer.photo'), voice: t('capture.voice'), video: t('capture.video') }[kind];
    shoot.hidden = kind !== 'photo';
    record.hidden = kind === 'photo';
    stop.hidden = true;
    video.hidden = kind === 'voice';
    state.textContent = '';
    if (!navigator.mediaDevices?.getUserMedia) {
      notify(t('capture.noDevices'));
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia(kind === 'voice' ? { audio: true } : { video: true, audio: kind === 'video' });
    } catch (e) {
      notify(t('capture.unavailable', { error: e.message }));
      return;
    }
    video.srcObject = kind === 'voice' ? null : stream;
    openPanel(dialog);
  }

  shoot.addEventListener('click', () => {
    const canvas = document.createElement('canvas');
    canvas.width = video.videoWidth || 640;
    canvas.height = video.videoHeight || 480;
    canvas.getContext('2d').drawImage(video, 0, 0, canvas.width, canvas.height);
    canvas.toBlob((blob) => {
      if (blob) onFile(new File([blob], `photo-${Date.now()}.jpg`, { type: 'image/jpeg' }));
      dialog.close();
    }, 'image/jpeg', 0.9);
  });

  record.addEventListener('click', () => {
    const chunks = [];
    recorder = new MediaRecorder(stream);
    recorder.ondataavailable = (e) => { if (e.data.size) chunks.push(e.data); };
    recorder.onstop = () => {
      const type = recorder.mimeType || (mode === 'voice' ? 'audio/webm' : 'video/webm');
      const ext = type.includes('mp4') ? 'mp4' : type.includes('ogg') ? 'ogg' : 'webm';
      onFile(new File(chunks, `${mode}-${Date.now()}.${ext}`, { type }));
      dialog.close();
    };
    recorder.start();
    record.hidden = true;
    stop.hidden = false;
    state.textContent = t('capture.recording');
  });
  stop.addEventListener('click', () => recorder?.state === 'recording' && recorder.stop());
  dialog.addEventListener('close', () => {
    if (recorder?.state === 'recording') { recorder.onstop = null; recorder.stop(); }
    recorder = null;
    stopStream();
  });

  $('photo-button').addEventListener('click', () => open('photo'));
  $('voice-button').addEventListener('click', () => open('voice'));
  $('video-button').addEventListener('click', () => open('video'));
}
