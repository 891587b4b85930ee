// Loa Xã live broadcast (#25): the microphone's samples, as 16-bit PCM in 20 ms messages,
// with the block's peak level for the meter. Runs on the audio thread (AudioWorklet).
"use strict";
class LoaxaCapture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.size = Math.round(sampleRate / 50); // 20 ms
    this.buf = new Int16Array(this.size);
    this.n = 0;
    this.peak = 0;
  }
  process(inputs) {
    var input = inputs[0];
    if (!input || !input[0]) return true;
    var ch = input[0];
    for (var i = 0; i < ch.length; i++) {
      var s = ch[i];
      if (s > 1) s = 1; else if (s < -1) s = -1;
      var a = s < 0 ? -s : s;
      if (a > this.peak) this.peak = a;
      this.buf[this.n++] = s < 0 ? s * 32768 : s * 32767;
      if (this.n === this.size) {
        this.port.postMessage({ pcm: this.buf.buffer, peak: this.peak }, [this.buf.buffer]);
        this.buf = new Int16Array(this.size);
        this.n = 0;
        this.peak = 0;
      }
    }
    return true;
  }
}
registerProcessor("loaxa-capture", LoaxaCapture);
