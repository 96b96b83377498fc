// Loads the Yew front end (wasm) once the page is parsed.
import init from './choucha_ui.js';
init().catch((e) => {
  const boot = document.getElementById('boot');
  if (boot) boot.textContent = '界面加载失败 (the interface failed to load): ' + e;
});
