throw new Error('electron-webrtc is not installed here: the test node runs offline, without WebRTC')
