throw new Error('wrtc is not installed here: the test node runs offline, without WebRTC')
